"""Webhooks: subscriptions, their signed deliveries (Standard Webhooks), the worker."""
