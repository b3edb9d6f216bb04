"""HTTP for push: a member's devices and notification settings, and the VAPID public key
pages subscribe with."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from backend.auth.access import MEMBERS, PUBLIC
from backend.errors import DeviceNotFound, NotFound
from backend.http import MemberRequest, PathId, answers, strict_body
from backend.push.devices import list_devices, register_device, remove_device
from backend.push.preferences import change_notification_settings, notification_settings
from backend.push.schemas import (
    DeviceList,
    DeviceRegistration,
    DeviceView,
    NotificationSettingsUpdate,
    NotificationSettingsView,
    WebPushKey,
)
from backend.push.setup import PushSetup


class MyDevicesController(Controller):
    path = "/v1/me"
    tags = ["me", "push"]

    @get("/devices", opt=MEMBERS, summary="The member's devices that get push")
    async def list_devices(self, request: MemberRequest) -> DeviceList:
        return await list_devices(request.user.member_id)

    @post(
        "/devices",
        opt=MEMBERS,
        status_code=201,
        summary="Register a Web Push subscription, an FCM or an APNs token (again: moved, "
        "never doubled)",
    )
    async def register_device(
        self,
        request: MemberRequest,
        data: JSONBody[DeviceRegistration],
        push_setup: NamedDependency[PushSetup],
    ) -> DeviceView:
        body = await strict_body(request, DeviceRegistration)
        return await register_device(
            request.user.member_id, body, loopback_http=push_setup.loopback_http
        )

    @delete(
        "/devices/{device_id:uuid}",
        opt=MEMBERS | answers(DeviceNotFound),
        status_code=204,
        summary="Stop push to one of the member's devices",
    )
    async def remove_device(self, request: MemberRequest, device_id: PathId) -> None:
        await remove_device(request.user.member_id, device_id)

    @get(
        "/notifications",
        opt=MEMBERS,
        summary="Which kinds of notification the member gets, and in which language",
    )
    async def get_notification_settings(self, request: MemberRequest) -> NotificationSettingsView:
        return await notification_settings(request.user.member_id)

    @put(
        "/notifications",
        opt=MEMBERS,
        summary="Turn kinds of notification on or off (those named), choose the language",
    )
    async def change_notification_settings(
        self, request: MemberRequest, data: JSONBody[NotificationSettingsUpdate]
    ) -> NotificationSettingsView:
        body = await strict_body(request, NotificationSettingsUpdate)
        return await change_notification_settings(request.user.member_id, body)


class WebPushKeyController(Controller):
    path = "/v1/push"
    tags = ["push"]

    @get(
        "/web-push-key",
        opt=PUBLIC | answers(NotFound),
        summary="The VAPID public key (applicationServerKey) to subscribe with",
    )
    async def web_push_key(self, push_setup: NamedDependency[PushSetup]) -> WebPushKey:
        if push_setup.vapid_public_key is None:
            raise NotFound("web push is not configured")
        return WebPushKey(public_key=push_setup.vapid_public_key)
