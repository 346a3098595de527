"""Idempotent NetBox bootstrap for scripts/peers/netbox: a superuser and a v2 API token.

Run with NetBox's venv python and NETBOX_ROOT set. Values come from the environment:
NB_ADMIN_USER, NB_ADMIN_PASSWORD, NB_TOKEN_KEY (12 characters), NB_TOKEN_SECRET (40). The
token is ``nbt_<key>.<secret>``, sent as ``Authorization: Bearer nbt_<key>.<secret>``.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netbox.settings")
import django

django.setup()
from users.models import Token, User  # noqa: E402

name, password = os.environ["NB_ADMIN_USER"], os.environ["NB_ADMIN_PASSWORD"]
key, secret = os.environ["NB_TOKEN_KEY"], os.environ["NB_TOKEN_SECRET"]

user = User.objects.filter(username=name).first()
if user is None:
    user = User.objects.create_superuser(name, f"{name}@example.test", password)
    print("created superuser", name)
elif not user.check_password(password):
    user.set_password(password)
    user.save()

token = Token.objects.filter(key=key).first()
if token is not None and (token.user_id != user.id or not token.validate(secret)):
    token.delete()  # the secret or the pepper changed
    token = None
if token is None:
    token = Token(user=user, version=2, key=key, token=secret, write_enabled=True, description="fluxbilling tests")
    token.full_clean()
    token.save()
    print("created v2 token", key)
