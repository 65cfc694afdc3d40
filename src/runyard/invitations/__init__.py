"""Invitations to join a team: created by an admin, accepted by the invitee (their consent)."""
