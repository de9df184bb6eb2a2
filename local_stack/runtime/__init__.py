"""The Lambda runtime as a function meets it: in-process invocation the way ``sam local
invoke`` does it, the Runtime API, and AWS's own runtime interface client."""
