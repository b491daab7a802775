"""The outbox of e-mails, their templates and delivery."""
