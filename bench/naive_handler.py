"""The naive peer: the Lambda handler most tutorials show.

Module-level boto3 client, ``get_secret_value`` on every call, a bare
``websockets`` connect/send/recv with ``additional_headers``; no caching, no
validation, no error handling, no logs or metrics. It is what our handler's
cold start and memory are measured against, never deployed.
"""

import asyncio
import json
import os

import boto3
import websockets

secrets = boto3.client("secretsmanager")


async def exchange(uri, token, message):
    async with websockets.connect(
        uri, additional_headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        await ws.send(json.dumps(message))
        return json.loads(await ws.recv())


def lambda_handler(event, context):
    secret = secrets.get_secret_value(SecretId=os.environ["TOKEN_SECRET_ID"])
    token = json.loads(secret["SecretString"])["token"]
    reply = asyncio.run(exchange(os.environ["WEBSOCKET_URI"], token, {"action": "ping"}))
    return {"statusCode": 200, "body": json.dumps(reply)}
