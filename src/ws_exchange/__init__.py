"""An authenticated WebSocket exchange, as an AWS Lambda function."""
