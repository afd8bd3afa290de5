"""The two WebAuthn ceremonies on top of py_webauthn, with our policy baked in.

Policy: the RP ID is the host of the configured origin and the only accepted origin is that origin;
credentials are discoverable (resident key required) so sign-in needs no user name; user verification is
required for staff and preferred for residents; EdDSA, ES256 and RS256 keys are accepted; the signature
counter must increase unless the authenticator does not keep one (both 0).
"""

from __future__ import annotations

import json
from typing import Any

from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from server.auth.config import AuthConfig
from server.auth.problems import AuthProblem

__all__ = [
    "ALGORITHMS",
    "VerifiedRegistration",
    "authentication_options",
    "credential_id_of",
    "registration_options",
    "user_handle_of_response",
    "verify_authentication",
    "verify_registration",
]

ALGORITHMS = [
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]


def registration_options(
    config: AuthConfig,
    *,
    user_handle: bytes,
    user_name: str,
    display_name: str,
    staff: bool,
    exclude: list[bytes],
) -> tuple[dict[str, Any], bytes]:
    """``PublicKeyCredentialCreationOptionsJSON`` and the challenge to remember."""
    options = generate_registration_options(
        rp_id=config.rp_id,
        rp_name=config.rp_name,
        user_id=user_handle,
        user_name=user_name,
        user_display_name=display_name,
        timeout=config.challenge_ttl * 1000,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=(UserVerificationRequirement.REQUIRED if staff
                               else UserVerificationRequirement.PREFERRED),
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in exclude],
        supported_pub_key_algs=ALGORITHMS,
    )
    return json.loads(options_to_json(options)), options.challenge


def authentication_options(config: AuthConfig, *, allow: list[bytes] | None = None,
                           require_user_verification: bool = False) -> tuple[dict[str, Any], bytes]:
    """Sign-in options; ``allow`` lists the passkeys that may answer (re-authentication of a known account).

    For sign-in, ``allow`` is None: discoverable credentials, no allowCredentials, the authenticator offers
    the user's passkeys. User verification is then only *preferred* because we do not know yet who signs in;
    for staff the verification step refuses an assertion without the UV flag. Re-authentication before a
    credential change asks for it (``require_user_verification``) and the verification step insists on it.
    """
    options = generate_authentication_options(
        rp_id=config.rp_id,
        timeout=config.challenge_ttl * 1000,
        allow_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in allow or []],
        user_verification=(UserVerificationRequirement.REQUIRED if require_user_verification
                           else UserVerificationRequirement.PREFERRED),
    )
    return json.loads(options_to_json(options)), options.challenge


def _b64(value: Any) -> bytes:
    if not isinstance(value, str) or not value or len(value) > 2048:
        raise AuthProblem(400, "invalid-credential", "the credential is malformed")
    try:
        return base64url_to_bytes(value)
    except Exception as exc:  # binascii.Error, ValueError: bad input, not a server error
        raise AuthProblem(400, "invalid-credential", "the credential is malformed") from exc


def credential_id_of(credential: dict[str, Any]) -> bytes:
    return _b64(credential.get("rawId") or credential.get("id"))


def user_handle_of_response(credential: dict[str, Any]) -> bytes | None:
    response = credential.get("response")
    handle = response.get("userHandle") if isinstance(response, dict) else None
    return _b64(handle) if handle else None


def verify_registration(
    config: AuthConfig, credential: dict[str, Any], challenge: bytes, *, staff: bool
) -> VerifiedRegistration:
    try:
        return verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=config.rp_id,
            expected_origin=config.origin,
            require_user_verification=staff,
            supported_pub_key_algs=ALGORITHMS,
        )
    except Exception as exc:  # py_webauthn raises several types for hostile input; all mean "refused"
        raise AuthProblem(400, "registration-failed", f"passkey registration refused: {exc}") from exc


def verify_authentication(
    config: AuthConfig,
    credential: dict[str, Any],
    challenge: bytes,
    *,
    public_key: bytes,
    sign_count: int,
    require_user_verification: bool,
) -> tuple[int, bool]:
    """Check the assertion; returns the new signature counter and whether the user was verified (UV flag)."""
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=config.rp_id,
            expected_origin=config.origin,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=require_user_verification,
        )
    except Exception as exc:
        raise AuthProblem(401, "sign-in-failed", f"sign-in refused: {exc}") from exc
    return int(verified.new_sign_count), bool(verified.user_verified)
