"""The one error hierarchy. Services raise these; ``backend.problems`` maps them to HTTP once.

Each error carries a stable machine-readable ``code`` (part of the API contract) and the HTTP
status it stands for, so services never import anything from the web framework.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A kind of error is declared in its class line, ``class X(Parent, code=..., title=...)``;
    it answers with its parent's status unless it names its own."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init_subclass__(
        cls,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code
        if title is not None:
            cls.title = title

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class ValidationFailed(DomainError, code="validation_failed", title="The request is not valid"): ...


class Unauthorized(
    DomainError,
    status=401,
    code="unauthorized",
    title="Authentication required",
): ...


class InvalidOtp(
    DomainError,
    status=401,
    code="invalid_otp",
    title="The one-time code is wrong or expired",
): ...


class Forbidden(DomainError, status=403, code="forbidden", title="Not allowed for this caller"): ...


class NotFound(DomainError, status=404, code="not_found", title="Not found"): ...


class MemberNotFound(NotFound, code="member_not_found", title="No such member"): ...


class DeviceNotFound(NotFound, code="device_not_found", title="No such device"): ...


class CardBlocked(NotFound, code="card_blocked", title="This card was blocked as lost"): ...


class Conflict(DomainError, status=409, code="conflict", title="Conflict"): ...


class IdempotentRequestInProgress(
    Conflict,
    code="idempotent_request_in_progress",
    title="A request with this Idempotency-Key is still being processed",
): ...


class ExternalIdReused(
    Conflict,
    code="external_id_reused",
    title="This external_id was already used for a different purchase",
): ...


class Unprocessable(
    DomainError,
    status=422,
    code="unprocessable",
    title="The request cannot be processed",
): ...


class IdempotencyKeyReused(
    Unprocessable,
    code="idempotency_key_reused",
    title="This Idempotency-Key was used with a different request",
): ...


class CurrencyMismatch(
    Unprocessable,
    code="currency_mismatch",
    title="The currency does not match the store's",
): ...


class RedeemCapExceeded(
    Unprocessable,
    code="redeem_cap_exceeded",
    title="Points may pay for only part of this check",
): ...


class CheckoutNotOpen(
    Conflict,
    code="checkout_not_open",
    title="The checkout is no longer open for this",
): ...


class RefundExceedsPurchase(
    Unprocessable,
    code="refund_exceeds_purchase",
    title="The refund is larger than what is left of the purchase",
): ...


class RefundLineUnknown(
    Unprocessable,
    code="refund_line_unknown",
    title="A refund line names a SKU that is not on this receipt",
): ...


class RefundExceedsLines(
    Unprocessable,
    code="refund_exceeds_lines",
    title="The refund names more units than are left of the receipt's line",
): ...


class PurchaseHasNoLines(
    Unprocessable,
    code="purchase_has_no_lines",
    title="The purchase was sold by amount only: it has no lines to refund",
): ...


class RefundAmountMismatch(
    ValidationFailed,
    code="refund_amount_mismatch",
    title="The refund's amount is not what its lines are worth",
): ...


class InsufficientPoints(Unprocessable, code="insufficient_points", title="Not enough points"): ...


class SaleAmountTooLarge(
    Unprocessable,
    code="sale_amount_too_large",
    title="The amount is above this store's maximum for one sale",
): ...


class ApproverIsRequester(
    Forbidden,
    code="approver_is_requester",
    title="An adjustment needs a second staff member's approval, not its requester's",
): ...


class ApprovalDecided(
    Conflict,
    code="approval_decided",
    title="This adjustment was already decided otherwise",
): ...


class TooManyRequests(
    DomainError,
    status=429,
    code="too_many_requests",
    title="Too many requests",
): ...


class AccountLocked(
    TooManyRequests,
    code="account_locked",
    title="The account is locked after repeated failed logins",
): ...


class ServiceUnavailable(
    DomainError,
    status=503,
    code="service_unavailable",
    title="A backing service is unavailable",
): ...


class PaymentProviderUnavailable(
    ServiceUnavailable,
    code="payment_provider_unavailable",
    title="The payment provider is unavailable",
): ...


class PaymentRefused(
    Unprocessable,
    code="payment_refused",
    title="The payment provider refused the payment",
): ...
