"""``PROTOCOL=raw``: no protocol of its own; the identity preset.

Messages go on the wire as the caller wrote them (framed as text or binary,
objects stamped with ``TIMESTAMP_FIELD``) and every frame that arrives is a
reply. The conversation reads the connection itself
(:class:`~.link.RawLink`): nothing here is imported to run it.
"""
