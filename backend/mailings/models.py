"""SMS mailings, their messages, the dispatcher and the gateway client."""
