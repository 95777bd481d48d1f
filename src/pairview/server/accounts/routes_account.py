"""REST endpoints of the account page and of administrators."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from pairview.server.accounts.auth import (
    SESSION_COOKIE,
    AccountsDep,
    AdminDep,
    CallerDep,
    PrincipalDep,
    clear_cookie,
)
from pairview.server.accounts.models import EMAIL_LENGTH, NAME_LENGTH
from pairview.server.accounts.routes_auth import (
    PASSWORD_FIELD,
    UserView,
    links_for,
    start_web_session,
    user_view,
)
from pairview.server.accounts.service import SignedIn

router = APIRouter(prefix="/api")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NameChange(_Body):
    display_name: str = Field(max_length=NAME_LENGTH * 4)


class EmailChange(_Body):
    email: str = Field(max_length=EMAIL_LENGTH * 2)
    password: str | None = PASSWORD_FIELD


class PasswordChange(_Body):
    current_password: str | None = PASSWORD_FIELD
    new_password: str = PASSWORD_FIELD


class Deletion(_Body):
    password: str | None = PASSWORD_FIELD


class AdminUserView(BaseModel):
    id: str
    email: str | None
    display_name: str
    role: str
    created_at: datetime


@router.get("/account")
async def account(principal: PrincipalDep) -> UserView:
    return user_view(principal)


@router.patch("/account/name")
async def change_name(body: NameChange, principal: PrincipalDep, accounts: AccountsDep) -> UserView:
    name = await accounts.service.change_display_name(principal, body.display_name)
    view = user_view(principal)
    return view.model_copy(update={"display_name": name})


@router.post("/account/email", status_code=status.HTTP_202_ACCEPTED)
async def change_email(
    body: EmailChange, request: Request, principal: PrincipalDep, accounts: AccountsDep
) -> dict[str, str]:
    await accounts.service.request_email_change(
        principal, body.email, body.password, links_for(request)
    )
    return {"detail": "Check the new address's mail and open the link in it to confirm."}


@router.put("/account/password")
async def change_password(
    body: PasswordChange,
    request: Request,
    response: Response,
    caller: CallerDep,
    accounts: AccountsDep,
) -> dict[str, str | None]:
    """Set a new password; every other session ends, and the caller gets a new one."""
    session = await accounts.service.change_password(
        caller.principal, body.current_password, body.new_password
    )
    if caller.via_cookie:
        start_web_session(response, request, accounts, SignedIn(session, caller.principal.user_id))
        return {"detail": "Password changed; every other sign-in has ended.", "token": None}
    return {"detail": "Password changed; every other sign-in has ended.", "token": session.token}


@router.delete("/account", status_code=status.HTTP_204_NO_CONTENT)
async def delete_account(
    body: Deletion, request: Request, principal: PrincipalDep, accounts: AccountsDep
) -> Response:
    await accounts.service.delete_account(principal, body.password)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_cookie(response, request, accounts, SESSION_COOKIE)
    return response


@router.get("/admin/users")
async def list_users(admin: AdminDep, accounts: AccountsDep) -> list[AdminUserView]:
    return [
        AdminUserView(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            created_at=user.created_at,
        )
        for user in await accounts.service.list_users()
    ]


@router.delete("/admin/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: str, admin: AdminDep, accounts: AccountsDep) -> Response:
    """Delete an account and its personal data, as its owner can on the account page."""
    if user_id == admin.user_id:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "Delete your own account on the account page instead."
        )
    await accounts.service.delete_user(user_id[:64])
    return Response(status_code=status.HTTP_204_NO_CONTENT)
