import datetime

from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UserKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USER_KIND_UNSPECIFIED: _ClassVar[UserKind]
    USER_KIND_PERSON: _ClassVar[UserKind]
    USER_KIND_SERVICE_ACCOUNT: _ClassVar[UserKind]
USER_KIND_UNSPECIFIED: UserKind
USER_KIND_PERSON: UserKind
USER_KIND_SERVICE_ACCOUNT: UserKind

class User(_message.Message):
    __slots__ = ("id", "username", "email", "full_name", "kind", "iam_id", "disabled", "permissions", "group_ids", "attributes", "external_usernames", "authorizations", "create_time", "update_time", "disable_time", "etag", "certificate_uris")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.AttributeValues
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.AttributeValues, _Mapping]] = ...) -> None: ...
    class AuthorizationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.AttributeValues
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.AttributeValues, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    IAM_ID_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    GROUP_IDS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_USERNAMES_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATIONS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DISABLE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_URIS_FIELD_NUMBER: _ClassVar[int]
    id: str
    username: str
    email: str
    full_name: str
    kind: UserKind
    iam_id: str
    disabled: bool
    permissions: _containers.RepeatedScalarFieldContainer[str]
    group_ids: _containers.RepeatedScalarFieldContainer[str]
    attributes: _containers.MessageMap[str, _common_pb2.AttributeValues]
    external_usernames: _containers.RepeatedCompositeFieldContainer[ExternalUsername]
    authorizations: _containers.MessageMap[str, _common_pb2.AttributeValues]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    disable_time: _timestamp_pb2.Timestamp
    etag: str
    certificate_uris: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., username: _Optional[str] = ..., email: _Optional[str] = ..., full_name: _Optional[str] = ..., kind: _Optional[_Union[UserKind, str]] = ..., iam_id: _Optional[str] = ..., disabled: _Optional[bool] = ..., permissions: _Optional[_Iterable[str]] = ..., group_ids: _Optional[_Iterable[str]] = ..., attributes: _Optional[_Mapping[str, _common_pb2.AttributeValues]] = ..., external_usernames: _Optional[_Iterable[_Union[ExternalUsername, _Mapping]]] = ..., authorizations: _Optional[_Mapping[str, _common_pb2.AttributeValues]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., disable_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., certificate_uris: _Optional[_Iterable[str]] = ...) -> None: ...

class ExternalUsername(_message.Message):
    __slots__ = ("platform", "username", "aws_user_type")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    AWS_USER_TYPE_FIELD_NUMBER: _ClassVar[int]
    platform: _common_pb2.Platform
    username: str
    aws_user_type: _common_pb2.AwsUserType
    def __init__(self, platform: _Optional[_Union[_common_pb2.Platform, str]] = ..., username: _Optional[str] = ..., aws_user_type: _Optional[_Union[_common_pb2.AwsUserType, str]] = ...) -> None: ...

class CreateUserRequest(_message.Message):
    __slots__ = ("email", "full_name", "iam_id", "kind")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    IAM_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    email: str
    full_name: str
    iam_id: str
    kind: UserKind
    def __init__(self, email: _Optional[str] = ..., full_name: _Optional[str] = ..., iam_id: _Optional[str] = ..., kind: _Optional[_Union[UserKind, str]] = ...) -> None: ...

class GetUserRequest(_message.Message):
    __slots__ = ("id", "username")
    ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    username: str
    def __init__(self, id: _Optional[str] = ..., username: _Optional[str] = ...) -> None: ...

class ListUsersRequest(_message.Message):
    __slots__ = ("query", "include_disabled", "group_id", "permission", "iam_id", "page_size", "page_token")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DISABLED_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    IAM_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    query: str
    include_disabled: bool
    group_id: str
    permission: str
    iam_id: str
    page_size: int
    page_token: str
    def __init__(self, query: _Optional[str] = ..., include_disabled: _Optional[bool] = ..., group_id: _Optional[str] = ..., permission: _Optional[str] = ..., iam_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListUsersResponse(_message.Message):
    __slots__ = ("users", "next_page_token")
    USERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[User]
    next_page_token: str
    def __init__(self, users: _Optional[_Iterable[_Union[User, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateUserRequest(_message.Message):
    __slots__ = ("user", "update_mask", "etag")
    USER_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    user: User
    update_mask: _field_mask_pb2.FieldMask
    etag: str
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class DisableUserRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class EnableUserRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteUserRequest(_message.Message):
    __slots__ = ("id", "confirm")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_FIELD_NUMBER: _ClassVar[int]
    id: str
    confirm: str
    def __init__(self, id: _Optional[str] = ..., confirm: _Optional[str] = ...) -> None: ...

class MigrateUserRequest(_message.Message):
    __slots__ = ("id", "target_iam_id", "new_username")
    ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_IAM_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_USERNAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    target_iam_id: str
    new_username: str
    def __init__(self, id: _Optional[str] = ..., target_iam_id: _Optional[str] = ..., new_username: _Optional[str] = ...) -> None: ...

class SetExternalUsernameRequest(_message.Message):
    __slots__ = ("user_id", "platform", "username", "aws_user_type")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    AWS_USER_TYPE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    platform: _common_pb2.Platform
    username: str
    aws_user_type: _common_pb2.AwsUserType
    def __init__(self, user_id: _Optional[str] = ..., platform: _Optional[_Union[_common_pb2.Platform, str]] = ..., username: _Optional[str] = ..., aws_user_type: _Optional[_Union[_common_pb2.AwsUserType, str]] = ...) -> None: ...

class ClearExternalUsernameRequest(_message.Message):
    __slots__ = ("user_id", "platform")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    platform: _common_pb2.Platform
    def __init__(self, user_id: _Optional[str] = ..., platform: _Optional[_Union[_common_pb2.Platform, str]] = ...) -> None: ...

class AddUserAttributeRequest(_message.Message):
    __slots__ = ("user_id", "attribute", "values")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    attribute: str
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_id: _Optional[str] = ..., attribute: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class RemoveUserAttributeValueRequest(_message.Message):
    __slots__ = ("user_id", "attribute", "value")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    attribute: str
    value: str
    def __init__(self, user_id: _Optional[str] = ..., attribute: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class ApiKey(_message.Message):
    __slots__ = ("id", "user_id", "display_name", "create_time", "expire_time", "revoke_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    display_name: str
    create_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    revoke_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., display_name: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoke_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateApiKeyRequest(_message.Message):
    __slots__ = ("user_id", "display_name", "expire_time")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    display_name: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., display_name: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateApiKeyResponse(_message.Message):
    __slots__ = ("api_key", "secret")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    secret: str
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListApiKeysRequest(_message.Message):
    __slots__ = ("user_id", "include_revoked", "page_size", "page_token")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REVOKED_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    include_revoked: bool
    page_size: int
    page_token: str
    def __init__(self, user_id: _Optional[str] = ..., include_revoked: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListApiKeysResponse(_message.Message):
    __slots__ = ("api_keys", "next_page_token")
    API_KEYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    api_keys: _containers.RepeatedCompositeFieldContainer[ApiKey]
    next_page_token: str
    def __init__(self, api_keys: _Optional[_Iterable[_Union[ApiKey, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RevokeApiKeyRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetUsageMetricsRequest(_message.Message):
    __slots__ = ("days",)
    DAYS_FIELD_NUMBER: _ClassVar[int]
    days: int
    def __init__(self, days: _Optional[int] = ...) -> None: ...

class DailyUsage(_message.Message):
    __slots__ = ("date", "users_created", "permissions_granted", "groups_created", "impersonations_checked", "syncs_run", "users_synced")
    DATE_FIELD_NUMBER: _ClassVar[int]
    USERS_CREATED_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_GRANTED_FIELD_NUMBER: _ClassVar[int]
    GROUPS_CREATED_FIELD_NUMBER: _ClassVar[int]
    IMPERSONATIONS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    SYNCS_RUN_FIELD_NUMBER: _ClassVar[int]
    USERS_SYNCED_FIELD_NUMBER: _ClassVar[int]
    date: str
    users_created: int
    permissions_granted: int
    groups_created: int
    impersonations_checked: int
    syncs_run: int
    users_synced: int
    def __init__(self, date: _Optional[str] = ..., users_created: _Optional[int] = ..., permissions_granted: _Optional[int] = ..., groups_created: _Optional[int] = ..., impersonations_checked: _Optional[int] = ..., syncs_run: _Optional[int] = ..., users_synced: _Optional[int] = ...) -> None: ...

class GetUsageMetricsResponse(_message.Message):
    __slots__ = ("days", "document")
    DAYS_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    days: _containers.RepeatedCompositeFieldContainer[DailyUsage]
    document: _struct_pb2.Struct
    def __init__(self, days: _Optional[_Iterable[_Union[DailyUsage, _Mapping]]] = ..., document: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
