"""How the hub talks back to Meta: the Graph API client, send payloads, error guidance and a local fake."""
