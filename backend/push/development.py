"""Development credentials of the push providers: generated for this repository, known to
everyone who reads it, and therefore refused in production (``backend.settings``).

``make run``'s fakes (``devkit/fakes/``) accept exactly these: the FCM fake checks the
service account's signature with its public key, the APNs fake the provider token's with
the key's. Nothing here reaches a real push service.
"""

from __future__ import annotations

import json

# The VAPID key pair's private half (P-256, base64url of the 32-byte scalar).
DEV_VAPID_PRIVATE_KEY = "OZmya1g_NkmwtgNAniP9O2h7u3VC1lQpCT8af0kvwss"
DEV_VAPID_SUBJECT = "mailto:push-dev@astrocoffee.example"

# An FCM service account as Google issues it (its JSON file), pointing at the fake's OAuth
# token endpoint rather than Google's.
DEV_FCM_URL = "http://127.0.0.1:8097"
DEV_FCM_SERVICE_ACCOUNT = json.dumps(
    {
        "type": "service_account",
        "project_id": "astrocoffee-dev",
        "private_key_id": "dev-only",
        "private_key": """-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDnh5EO0LleTPLv
RgfyoMbCsQRRa2K/k9kxGjpQ6rs3tfFYO9Y/7W0O/GOhv/GCk3OJwo90LUXMncOZ
btDHL0j4gTyGkuJCQ5OPS0rsqLG3W7kn8NnhQozaaljCULKVctF0kTtRLWsWv12x
eidcHt8z561pBM6zpfG2cmLWrTwyQtyiybn1cq9jUdT5/84yYqCx823GtKKY4bPC
hdF/mdSsdw74x+R9Q8UGU3vL8pCTqmmLrMBOuc4kLdIrg+zUgKvK0apLYxsOqfcl
hGEy4IZUvT07cRLabKdE8Ug7C4t3UfXciP1P1zhpdld5skiyLYQLWfYu8UDJll3n
xoKaSCKVAgMBAAECggEAIdS/FzdcEsGzMM/emu8vw+SaUSxcFErODnz63vaBr0kM
cDxkGNjAWhN6mnjB2TbjB9LwY8U2wQife3TEGIraAofd2HsviQe3UNWrZ8vZlgWW
11V7/Myc6NBn0lL42Voa7YnILVsx3fPOBMAo7q7LJho5DlKnwnvhxytNMnnDRUOV
MP+PefYiFdrzK6E/EvxcOr01pENQZeUkHBViyTAJ8jSZGN/SEujbKuOG14umjuVA
y5F7KAa8W6QesTaygg69Xv6+r0/lrfv5KIeMhJG3I4w+ZpEgxDBd4aKLRQpx326a
Sph3nvuyhnZalN+EmTSKrLc9WDMwqXxslDSRIcro6QKBgQD4B9b3eVN9bbQKV7b9
1IqfY4YN/4qzLNtiDhu4cjbMTtM/bWqks0guuIXVuHCXPzV4EJn4ypWCr3tWTs2Q
Lgv819rZz8tdEdPjV3ZssCTb2oLEaSPqHccUj8ydxa8ucP4H+E+nGvxDDxmEtSXx
s1ZrkbJnhHK7uTmPRMZ6lWLe2QKBgQDu9/+ZS7L6waq6wlpHQt2NlzxUTbzoa0gk
Ud7qwXvWTwrnhIyx0XuyAYQdLqlooyt/GkDM8Vdq6r5AL4UpM+tOMKrBN4I/yrwh
HiWqdSjxrg9Mw6M/+PxfYyK680epP/pQn7G3J4AdCk0TlrgFoNLqRif0DUA+Ixfe
Q+hbanWEHQKBgQDup/x8W02unuRiH0yAqQZJn6XZyk1XYo4lp5WcwKlhpWc23L2E
hM2rxvlgT/xmS/fS84Z0EdoSyW9P+LtrRCNcwwZeFseDYigT1JCqvEJ7GaJCAzj/
iG+KpWMpXJHXifmlCZT7IcghbmILg5JjI0DAeIzFdng/kVaFOJQSV7Ou4QKBgQDO
D4uX5G6xS86svGqciEwDjCW5jE8ZG2lZ6D8Qr0bZxc7hVKr9qmW/WQ9TGql6UTlw
oHLARlvbFhB3yIJKxTpichTMB9GIsIkJBbX1BpIH1M/codZjk5ALsLCCBMYGa+St
IQddp/IRGJDeE1kbgVJeMaDCEasT6a7rOiNisKolAQKBgF0IxI3HTY+3EDDTlzIR
7pF370zi+5iJFTyaWrP+qmyNJJv73zP9//te6e98FyQVoTWf03yVWJ1s8aaCy1mh
aBACFIeE4ALy4JBqSRRJv/QlbD3ChzniNfURg7XgyTac/HU9CmJBA0T6ktqmqCji
sYf1AQGE4konr1xSZsST1nk8
-----END PRIVATE KEY-----
""",
        "client_email": "push-dev@astrocoffee-dev.iam.gserviceaccount.com",
        "token_uri": DEV_FCM_URL + "/token",
    }
)

# An APNs token-authentication key (the .p8 file's PEM), its key id, the team and the app.
DEV_APNS_URL = "http://127.0.0.1:8098"
DEV_APNS_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgWnnA6FIUHYC1u3UK
YE3vd+weyF9+bbiUu9/je+OKn9ShRANCAATmv4ae+tVgQusSo8GhKz/55NNXWs0k
iEJQ6pRmpr+/ixGCzlEWeXU+WsLMwvqKpOt04lxcvHj2Y7jayAiqQrQT
-----END PRIVATE KEY-----
"""
DEV_APNS_KEY_ID = "DEVKEY0001"
DEV_APNS_TEAM_ID = "DEVTEAM001"
DEV_APNS_TOPIC = "ru.astrocoffee.dev"

DEV_WEB_PUSH_PORT = 8096
