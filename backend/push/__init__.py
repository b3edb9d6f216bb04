"""Push notifications: the devices members register, their notification settings, and the
providers that deliver to them (Web Push, FCM, APNs) behind one small interface
(``backend.push.providers``). docs/notifications.md, "Push"."""
