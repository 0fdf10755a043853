"""Tests of the outbound package: Graph client, payloads, error catalogue and the fake Graph API."""
