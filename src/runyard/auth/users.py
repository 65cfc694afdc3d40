"""Accounts: who may sign in. Email addresses are compared normalised; passwords have a
minimum length. Never commits; the request or command that owns the work does."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from runyard.auth.repository import AuthRepository
from runyard.auth.security import hash_password
from runyard.db.base import new_id
from runyard.errors import Conflict, Unprocessable
from runyard.models import User


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or not domain or any(c.isspace() for c in email):
        raise Unprocessable("email_address must be an email address.", code="invalid_email")
    return email


def check_password(password: str) -> None:
    if len(password) < 8:
        raise Unprocessable("The password needs at least 8 characters.", code="weak_password")


async def create_user(
    session: AsyncSession, email: str, password: str, display_name: str = ""
) -> User:
    """A new account; 409 ``user_exists`` when the address has one."""
    email = normalise_email(email)
    check_password(password)
    repo = AuthRepository(session)
    if await repo.user_by_email(email) is not None:
        raise Conflict(f"A user with the email {email} exists.", code="user_exists")
    user = User(
        id=new_id(),
        email_address=email,
        display_name=display_name,
        password_hash=hash_password(password),
    )
    session.add(user)
    await session.flush()
    return user
