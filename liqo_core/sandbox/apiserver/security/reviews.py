"""Create-only review resources: access reviews, rules reviews, token and self reviews."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..types import (
    JSON,
    APIError,
    InternalAPI,
    RequestAttributes,
    SubresourceCall,
    SubresourceHandler,
    UserInfo,
)
from .authn import Authenticator
from .rbac import RBACAuthorizer

AUTHZ = "authorization.k8s.io"
AUTHN = "authentication.k8s.io"


def _echo(call: SubresourceCall, kind: str, group: str) -> JSON:
    body = dict(call.body or {})
    body.setdefault("apiVersion", f"{group}/v1")
    body["kind"] = kind
    md = dict(body.get("metadata") or {})
    md["creationTimestamp"] = None
    body["metadata"] = md
    return body


def _user_json(user: UserInfo) -> JSON:
    out: JSON = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        out["uid"] = user.uid
    if user.extra:
        out["extra"] = {k: list(v) for k, v in user.extra.items()}
    return out


def access_attributes(spec: Mapping[str, Any], user: UserInfo) -> RequestAttributes:
    """The request attributes an access review's spec describes."""
    res = spec.get("resourceAttributes")
    non = spec.get("nonResourceAttributes")
    if res is not None:
        return RequestAttributes(
            user=user,
            verb=str(res.get("verb", "")),
            resource_request=True,
            api_group=str(res.get("group", "")),
            api_version=str(res.get("version", "")),
            resource=str(res.get("resource", "")),
            subresource=str(res.get("subresource", "")),
            namespace=str(res.get("namespace", "")),
            name=str(res.get("name", "")),
        )
    if non is not None:
        return RequestAttributes(
            user=user, verb=str(non.get("verb", "")), resource_request=False,
            path=str(non.get("path", "")),
        )  # fmt: skip
    raise APIError(
        422,
        "Invalid",
        'spec.resourceAttributes: Invalid value: "null": '
        "exactly one of nonResourceAttributes or resourceAttributes must be specified",
    )


class Reviews:
    """Handlers of the review resources, keyed for ``Security.virtual_resources``."""

    def __init__(self, authn: Authenticator, rbac: RBACAuthorizer) -> None:
        self.authn, self.rbac = authn, rbac

    def handlers(self) -> dict[tuple[str, str], SubresourceHandler]:
        """(group, resource) -> handler."""
        return {
            (AUTHZ, "selfsubjectaccessreviews"): self.self_subject_access_review,
            (AUTHZ, "subjectaccessreviews"): self.subject_access_review,
            (AUTHZ, "localsubjectaccessreviews"): self.local_subject_access_review,
            (AUTHZ, "selfsubjectrulesreviews"): self.self_subject_rules_review,
            (AUTHN, "tokenreviews"): self.token_review,
            (AUTHN, "selfsubjectreviews"): self.self_subject_review,
        }

    def _access(self, attrs: RequestAttributes) -> JSON:
        allowed, reason = self.rbac.decide(attrs)
        status: JSON = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        return status

    async def self_subject_access_review(self, call: SubresourceCall, _: InternalAPI) -> JSON:
        """SelfSubjectAccessReview: may the caller do this?"""
        out = _echo(call, "SelfSubjectAccessReview", AUTHZ)
        out["status"] = self._access(access_attributes(out.get("spec") or {}, call.attrs.user))
        return out

    async def subject_access_review(self, call: SubresourceCall, _: InternalAPI) -> JSON:
        """SubjectAccessReview: may the user described in spec do this?"""
        out = _echo(call, "SubjectAccessReview", AUTHZ)
        spec = out.get("spec") or {}
        if not spec.get("user") and not spec.get("groups"):
            raise APIError(
                422,
                "Invalid",
                'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid '
                'value: "": at least one of user or group must be specified',
            )
        user = UserInfo(
            str(spec.get("user", "")),
            tuple(spec.get("groups") or ()),
            str(spec.get("uid", "")),
            {k: tuple(v) for k, v in (spec.get("extra") or {}).items()},
        )
        out["status"] = self._access(access_attributes(spec, user))
        return out

    async def local_subject_access_review(self, call: SubresourceCall, api: InternalAPI) -> JSON:
        """LocalSubjectAccessReview: a SubjectAccessReview confined to the URL namespace."""
        spec = dict((call.body or {}).get("spec") or {})
        res = dict(spec.get("resourceAttributes") or {})
        if res.get("namespace", call.attrs.namespace) != call.attrs.namespace:
            raise APIError(400, "BadRequest", "spec.resourceAttributes.namespace must match")
        res["namespace"] = call.attrs.namespace
        spec["resourceAttributes"] = res
        body = {**(call.body or {}), "spec": spec}
        out = await self.subject_access_review(
            SubresourceCall(call.attrs, call.method, body, call.query), api
        )
        out["kind"] = "LocalSubjectAccessReview"
        return out

    async def self_subject_rules_review(self, call: SubresourceCall, _: InternalAPI) -> JSON:
        """SelfSubjectRulesReview: what the caller may do in spec.namespace."""
        out = _echo(call, "SelfSubjectRulesReview", AUTHZ)
        namespace = str((out.get("spec") or {}).get("namespace", ""))
        errors: list[str] = []
        resource_rules: list[JSON] = []
        non_resource_rules: list[JSON] = []
        for bound in self.rbac.bound_rules(call.attrs.user, namespace, errors):
            for rule in bound.rules:
                if rule.get("nonResourceURLs"):
                    item: JSON = {"verbs": rule.get("verbs") or [],
                                  "nonResourceURLs": rule["nonResourceURLs"]}  # fmt: skip
                    target = non_resource_rules
                else:
                    item = {"verbs": rule.get("verbs") or [],
                            "apiGroups": rule.get("apiGroups") or [],
                            "resources": rule.get("resources") or []}  # fmt: skip
                    if rule.get("resourceNames"):
                        item["resourceNames"] = rule["resourceNames"]
                    target = resource_rules
                if item not in target:
                    target.append(item)
        status: JSON = {
            "resourceRules": resource_rules,
            "nonResourceRules": non_resource_rules,
            "incomplete": bool(errors),
        }
        if errors:
            status["evaluationError"] = "; ".join(errors)
        out["status"] = status
        return out

    async def token_review(self, call: SubresourceCall, _: InternalAPI) -> JSON:
        """TokenReview: who does spec.token authenticate as, for spec.audiences?"""
        out = _echo(call, "TokenReview", AUTHN)
        spec = out.get("spec") or {}
        found = self.authn.authenticate_token(
            str(spec.get("token", "")), list(spec.get("audiences") or [])
        )
        if found is None:
            out["status"] = {"authenticated": False, "user": {},
                             "error": "[invalid bearer token, token lookup failed]"}  # fmt: skip
        else:
            user, audiences = found
            out["status"] = {
                "authenticated": True,
                "user": _user_json(user),
                "audiences": audiences,
            }
        return out

    async def self_subject_review(self, call: SubresourceCall, _: InternalAPI) -> JSON:
        """SelfSubjectReview: who am I (``kubectl auth whoami``)."""
        out = _echo(call, "SelfSubjectReview", AUTHN)
        out["status"] = {"userInfo": _user_json(call.attrs.user)}
        return out
