"""``GET /api/accounts/{id}/churn``: an account's probability of churn within the churn
model's horizon and the drivers that raised it (the 360 page's churn section as JSON).
Issue 16; see ``docs/churn.md``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from kizuna.api.routers._common import responses
from kizuna.api.schemas.common import MAX_INT
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.services import churn

router = APIRouter(prefix="/api", tags=["churn"])

AccountId = Annotated[
    int, Path(ge=1, le=MAX_INT, description="The account's id (as in `/accounts/{id}` and `GET /api/accounts`).")
]


class ChurnDriverOut(BaseModel):
    feature: str = Field(description="The feature that raised the risk (a health measure, `mrr`, `plan`, …).")
    text: str = Field(description="The driver as a sentence in the caller's language.")


class AccountChurnOut(BaseModel):
    """An account's newest churn score."""

    account_id: int
    as_of: date = Field(description="The day the daily job (or `kizuna churn predict`) scored it.")
    horizon_days: int = Field(description="Churn within this many days after `as_of`.")
    probability: float = Field(description="Calibrated probability of churn within the horizon, 0–1.")
    model_version: int = Field(description="The churn model version that scored it (`kizuna churn train`).")
    drivers: list[ChurnDriverOut] = Field(description="The features that raised the risk most, riskiest first.")
    warning: str | None = Field(None, description="Set when the model did not beat the health score by 0.03 ROC-AUC "
                                "on its held-out months: read the risk beside the health score.")  # fmt: skip


@router.get("/accounts/{account_id}/churn", response_model=AccountChurnOut, responses=responses(401, 403, 404, 422),
            summary="An account's churn risk and its drivers")  # fmt: skip
def get_account_churn(state: State, principal: CurrentPrincipal, account_id: AccountId) -> AccountChurnOut:
    """The probability that the account churns within the model's horizon, with the
    drivers as sentences. 404 `account_not_found` when there is no such account,
    `churn_not_available` when it has no score (not paying when last scored, or no churn
    model trained yet)."""
    with state.unit_of_work() as session:
        view = churn.require_account_churn(session, account_id)
    return AccountChurnOut.model_validate(view.as_dict())
