"""Partner webhooks: endpoints admins register, fed from the members' durable event streams
after commit (``feed``), signed the Standard Webhooks way (``signing``) and delivered in order
per member with retries (``delivery``). docs/notifications.md tells the partner's side."""
