"""The docker-free local stack (dev-only, never deployed).

- :mod:`local_stack.aws.secrets_manager`: moto's Secrets Manager server on 127.0.0.1,
  reached by boto3 through ``AWS_ENDPOINT_URL_SECRETS_MANAGER``;
- :mod:`local_stack.servers.websocket_server`: websockets' own server checking the
  bearer token, with paths that misbehave on purpose for the fault tests;
- :mod:`local_stack.servers`: servers that imitate kinds of endpoints: a
  multi-step scenario server (login, close with a chosen code, echo, a wss://
  variant with a chosen certificate expiry), a GraphQL server speaking
  graphql-transport-ws (Strawberry) and a Socket.IO server (python-socketio);
- :mod:`local_stack.runtime.invoker`: runs the handler from ``template.yaml`` the way
  ``sam local invoke`` does, in-process;
- :mod:`local_stack.runtime.ric` and :mod:`local_stack.runtime.runtime_api`: runs it inside
  AWS's own runtime interface client (awslambdaric) against a Lambda Runtime
  API on 127.0.0.1, as Lambda does.

The tests reuse them as fixtures.
"""
