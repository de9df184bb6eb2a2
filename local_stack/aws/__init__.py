"""Dev-only local counterparts of AWS services, verified from their public specifications."""
