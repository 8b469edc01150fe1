""":class:`KmsDecryptKeyring`: decryption under an explicit set of KMS keys (strict) or every key of some accounts
(discovery), for messages written by the KMS keyring and the KMS RSA keyring.

Facts from the specification (awslabs/aws-encryption-sdk-specification, ``framework/aws-kms/``): a strict keyring
decrypts as the KMS keyring does (``aws-kms-keyring.md``); the discovery keyring (``aws-kms-discovery-keyring.md``)
applies the same filter with a discovery filter instead of a key: the ARN's partition must equal the filter's and
its account must be in the filter's accounts; ``Decrypt`` is called with ``KeyId`` = the provider info ARN and the
response ``KeyId`` must equal it. kmsflow never offers discovery without a filter ("any key"). A decrypting
keyring calls KMS in the region the EDK's ARN names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Unpack

from kmsflow.envelope.arns import ACCOUNT_ID_DIGITS, KmsArn, is_account_id, parse_key_arn, require_key_arn
from kmsflow.envelope.exceptions import ConfigurationError
from kmsflow.envelope.kms_calls import KmsCaller, KmsOptions, decrypt_first
from kmsflow.envelope.kms_keyring import decrypt_kms_edk
from kmsflow.envelope.materials import KMS_PROVIDER_ID, KMS_RSA_PROVIDER_ID, DataKey, EncryptedDataKey
from kmsflow.envelope.rsa_keyring import RsaAlgorithm, check_rsa_algorithm, decrypt_rsa_edk

if TYPE_CHECKING:
    from kmsflow.envelope.retry import RetryStats
    from kmsflow.envelope.suites import AlgorithmSuite

#: What to pass, for messages.
_EITHER = (
    "key_ids (the allowed key ARNs) or discovery_accounts (with partition: every key of those accounts), "
    "exactly one: decrypting under any key is not offered"
)


class KmsDecryptKeyring:
    """Decrypts data keys under an explicit set of KMS keys (strict: ``key_ids``, key ARNs) or any key of the
    ``discovery_accounts`` in ``partition`` (discovery) - exactly one of the two; never "any key". Only EDKs
    that pass the filter reach KMS: a message of another key raises :class:`KeyNotAllowedError` without a call.

    Handles both provider ids: ``aws-kms`` (KMS keyring: Decrypt with the context) and ``aws-kms-rsa`` (KMS RSA
    keyring: Decrypt with ``rsa_algorithm``, then the context digest check). Encrypting is not its job.
    ``kms``: how to reach KMS (:class:`~kmsflow.envelope.kms_calls.KmsOptions`); each key is called in the region
    its ARN names."""

    def __init__(
        self,
        key_ids: Sequence[str] | None = None,
        *,
        discovery_accounts: Sequence[str] | None = None,
        partition: str = "aws",
        rsa_algorithm: RsaAlgorithm = "RSAES_OAEP_SHA_256",
        **kms: Unpack[KmsOptions],
    ) -> None:
        for name, value in (("key_ids", key_ids), ("discovery_accounts", discovery_accounts)):
            if isinstance(value, str):
                raise ConfigurationError(
                    f"{name} is one string, {value!r}; it takes a sequence of strings: pass {name}=[{value!r}]"
                )
            if value is not None and not value:
                raise ConfigurationError(
                    f"{name} is empty, so no key could decrypt anything; pass a non-empty {_EITHER}"
                )
        if key_ids is not None and discovery_accounts is not None:
            raise ConfigurationError(
                f"both key_ids {list(key_ids)!r} and discovery_accounts {list(discovery_accounts)!r} were given; "
                f"pass {_EITHER}"
            )
        if key_ids is not None:
            self.key_arns: frozenset[str] | None = frozenset(
                str(require_key_arn(k, "a strict decryption keyring")) for k in key_ids
            )
            self.accounts: frozenset[str] | None = None
        elif discovery_accounts is not None:
            bad = [a for a in discovery_accounts if not is_account_id(a)]
            if bad:
                raise ConfigurationError(
                    f"discovery_accounts must be {ACCOUNT_ID_DIGITS}-digit AWS account ids; got {bad!r} among "
                    f"{list(discovery_accounts)!r}: pass the ids of the accounts whose keys may decrypt"
                )
            if not partition:
                raise ConfigurationError(
                    f"a discovery filter needs a partition; got {partition!r}: pass partition='aws' (or "
                    "'aws-cn', 'aws-us-gov', ...: the partition of the accounts' keys)"
                )
            self.key_arns = None
            self.accounts = frozenset(discovery_accounts)
        else:
            raise ConfigurationError(f"neither key_ids nor discovery_accounts was given; pass {_EITHER}")
        self.partition = partition
        self.rsa_algorithm = check_rsa_algorithm(rsa_algorithm, "rsa_algorithm")
        self._kms = KmsCaller(None, **kms)

    @property
    def stats(self) -> RetryStats:
        return self._kms.stats

    def describe(self) -> str:
        if self.key_arns is not None:
            return "the keys " + ", ".join(sorted(self.key_arns))
        return f"the discovery filter (partition {self.partition}, accounts {', '.join(sorted(self.accounts or ()))})"

    def allows(self, edk: EncryptedDataKey) -> KmsArn | None:
        """The key ARN of ``edk`` if this keyring may ask KMS to decrypt it."""
        if edk.provider_id not in (KMS_PROVIDER_ID, KMS_RSA_PROVIDER_ID):
            return None
        try:
            arn = parse_key_arn(edk.provider_info.decode("utf-8"))
        except UnicodeDecodeError:
            return None
        if arn is None:
            return None
        if self.key_arns is not None:
            return arn if str(arn) in self.key_arns else None
        return arn if arn.partition == self.partition and arn.account in (self.accounts or ()) else None

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey:
        raise ConfigurationError(
            "KmsDecryptKeyring was asked to encrypt; it only decrypts: encrypt with KmsKeyring or KmsRsaKeyring"
        )

    def on_decrypt(
        self, suite: AlgorithmSuite, context: Mapping[str, str], keys: Sequence[EncryptedDataKey]
    ) -> bytearray:
        def decrypt(arn: KmsArn, edk: EncryptedDataKey) -> bytearray:
            if edk.provider_id == KMS_RSA_PROVIDER_ID:
                return decrypt_rsa_edk(self._kms, arn, edk, suite, context, self.rsa_algorithm)
            return decrypt_kms_edk(self._kms, arn, edk, suite, context)

        return decrypt_first(keys, self.allows, decrypt, self.describe())
