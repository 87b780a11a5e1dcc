"""Stripe (api.stripe.com): the platform's own billing — customers, Checkout, meters, webhooks."""
