"""`signalhub keys generate|public|secret|webhook-secret`: the hub's keys (docs/privacy.md,
docs/sinks.md)."""

from __future__ import annotations

import secrets

import click

from hub.commands.common import settings_from
from hub.errors import HubError
from hub.intake_keys import generate_key_pair, key_id, public_key_of
from hub.webhook_signing import new_secret


@click.group("keys")
def keys() -> None:
    """The hub's keys: the intake key pair (sealed intake), pseudonym secrets and
    webhook secrets.

    The private intake key and the pseudonym secrets stay in the hub's environment;
    only the public intake key is given to source systems. A webhook secret is shared
    by the hub and one team's receiver.
    """


@keys.command("generate")
def generate() -> None:
    """Make a new intake key pair (X25519) and print both keys.

    The PRIVATE key goes into the hub's environment only (HUB_INTAKE_PRIVATE_KEY);
    the PUBLIC key goes to the source systems that produce to the bus directly
    (HubClient(hub_public_key=...), signalhub import --seal-to).
    """
    private, public = generate_key_pair()
    click.echo(f"""\
# Hub intake key pair (X25519), key id {key_id(public)}
#
# PRIVATE key: for the hub's environment only. Keep it secret, never give it to a
# source system; whoever has it can read every sealed signal (and its BSN).
HUB_INTAKE_PRIVATE_KEY={private}
#
# PUBLIC key: give it to the source systems (HubClient(hub_public_key=...),
# signalhub import --seal-to or HUB_INTAKE_PUBLIC_KEY); it can only seal, not open.
HUB_INTAKE_PUBLIC_KEY={public}""")


@keys.command("public")
def public() -> None:
    """Print the public key of the configured HUB_INTAKE_PRIVATE_KEY (for sources)."""
    settings = settings_from(None)
    if settings.intake_private_key is None:
        raise click.ClickException("HUB_INTAKE_PRIVATE_KEY is not set: make a key pair with"
                                   " `signalhub keys generate`")
    try:
        key = public_key_of(settings.intake_private_key)
    except HubError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(key)
    click.echo(f"# key id {key_id(key)}; give this public key to the source systems",
               err=True)


@keys.command("secret")
def secret() -> None:
    """Print a new pseudonym secret (32 random bytes, URL-safe base64: 43 characters),
    for a new municipality or a new key version in HUB_PSEUDONYM_SECRETS."""
    click.echo(secrets.token_urlsafe(32))


@keys.command("webhook-secret")
def webhook_secret() -> None:
    """Print a new webhook secret (Standard Webhooks: whsec_ and the base64 of 32 random
    bytes).

    Put it in the variable the team's deliveries.webhook.secret_env names and give it to
    the team's receiver. To rotate, put the new secret before the old one, separated by a
    space: the hub then signs with both (docs/sinks.md, "Rotating the secret").
    """
    click.echo(new_secret())
