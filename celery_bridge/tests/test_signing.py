"""Job messages signed by Odoo: what a signature covers, and key rotation."""
from celery_bridge.core import signing

FIELDS = ("smart_dairy.maintenance.backup_database", "uuid-1", [], {"keep": 7}, 1, "company-1:t:all:k", 1, 2)


def test_a_signature_covers_task_arguments_and_every_trusted_header():
    signature = signing.sign("s3cret", *FIELDS)
    assert signing.problem(["s3cret"], signature, *FIELDS) is None
    for index, changed in enumerate(["smart_dairy.health.touch", "uuid-2", [1], {"keep": 1}, 2, "other", 2, 3]):
        tampered = list(FIELDS)
        tampered[index] = changed
        assert signing.problem(["s3cret"], signature, *tampered) == "the message's signature does not match", index


def test_unsigned_or_wrongly_signed_messages_are_refused():
    assert signing.problem(["s3cret"], None, *FIELDS) == "the message is not signed"
    assert signing.problem(["s3cret"], signing.sign("guess", *FIELDS), *FIELDS) is not None


def test_rotation_accepts_old_and_new_secret_and_signs_with_the_first():
    assert signing.secrets_of(" new , old ,") == ["new", "old"]
    assert signing.problem(signing.secrets_of("new,old"), signing.sign("old", *FIELDS), *FIELDS) is None
    assert signing.secrets_of("") == []
