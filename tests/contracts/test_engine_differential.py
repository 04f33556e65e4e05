"""The native engine against the Vyper bytecode on py-evm: same calls, same answers.

Hypothesis draws sequences of blocks of calls — admissions, role changes, suspensions,
validators, publishes, batch publishes, corrections, revocations, disputes through their
deadlines, enterprise registrations, grants and revocations (signed, stale, forged), audit
anchors, malformed calldata — from a small pool of actors and identifiers, so that most calls
collide with earlier ones and many are refused. Each call runs on py-evm (the reference) and on
the native handlers; their status, return data, logs and revert reason must be equal, and after
every block so must every view over every identifier of the pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth.vm.forks.shanghai.transactions import ShanghaiTransactionBuilder
from eth.vm.spoof import SpoofTransaction
from eth_typing import Address as EvmAddress
from evm_harness import CHAIN_ID, DISPUTE_WINDOW_BLOCKS, SECONDS_PER_BLOCK, Account, EvmHarness
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from chain.cities import City
from chain.engine import consortium, registry
from chain.engine.context import CallContext, SystemAddresses
from chain.engine.dispatch import CallOutcome, call_system_contract
from chain.engine.tables import EmptyTables, TableOverlay
from chain.enterprise import check_character, is_credit_code_bytes32, make_credit_code
from contracts import bindings
from contracts.typed_data import grant_digest, revocation_digest

GAS = 10_000_000
ZERO32 = b"\0" * 32
ACTORS = [Account.from_seed(seed_value) for seed_value in range(1, 8)]
"""ACTORS[0] deploys and is the regulator; the others are admitted (or not) by the steps."""
ENTERPRISE_KEYS = [Account.from_seed(seed_value) for seed_value in range(20, 23)]
ENTERPRISES = [
    make_credit_code(City.SHANGHAI, 1).to_bytes32(),
    make_credit_code(City.HEFEI, 2).to_bytes32(),
    b"91310000MA1FL0000A".ljust(32, b"\0"),  # wrong check character
    ZERO32,
]
RECORD_IDS = [ZERO32, *(bytes([0xA0 + i]) * 32 for i in range(6))]
DISPUTE_IDS = [ZERO32, *(bytes([0xD0 + i]) * 32 for i in range(3))]
HASHES = [ZERO32, b"\x11" * 32, b"\x22" * 32]
NODE_IDS = [ZERO32, b"\x51" * 32, b"\x52" * 32]
NAMES = ["Bank", "上海征信", "x" * 65]
GENESIS_TIMESTAMP = 1_700_000_000


@dataclass
class Reference:
    """The Vyper contracts on py-evm, called with spoofed senders (no signatures)."""

    harness: EvmHarness = field(default_factory=EvmHarness)
    addresses: SystemAddresses = field(init=False)

    def __post_init__(self) -> None:
        regulator = ACTORS[0]
        consortium_address = self.harness.deploy(regulator, "Consortium")
        registry_address = self.harness.deploy(
            regulator, "CreditRegistry", consortium_address, DISPUTE_WINDOW_BLOCKS)
        authorization_address = self.harness.deploy(regulator, "Authorization",
                                                    consortium_address)
        self.addresses = SystemAddresses(consortium_address, registry_address,
                                         authorization_address)

    def call(self, sender: bytes, to: bytes, data: bytes, keep: bool) -> CallOutcome:
        state = self.harness.state
        unsigned = ShanghaiTransactionBuilder.create_unsigned_transaction(
            nonce=state.get_nonce(EvmAddress(sender)), gas_price=0, gas=GAS, to=EvmAddress(to),
            value=0, data=data)
        snapshot = state.snapshot()
        computation = state.apply_transaction(SpoofTransaction(unsigned, from_=EvmAddress(sender)))
        if keep:
            state.lock_changes()
        else:
            state.revert(snapshot)
        logs = tuple(
            (bytes(address), tuple(t.to_bytes(32, "big") for t in topics), bytes(data))
            for address, topics, data in computation.get_log_entries())
        output = bytes(computation.output or b"")
        return CallOutcome(
            computation.is_success, output, logs if computation.is_success else (), 0,
            None if computation.is_success else bindings.decode_revert_reason(output))


@dataclass
class Native:
    """The native handlers over an in-memory table overlay."""

    addresses: SystemAddresses
    tables: TableOverlay = field(default_factory=lambda: TableOverlay(EmptyTables()))
    height: int = 1
    timestamp: int = GENESIS_TIMESTAMP

    def __post_init__(self) -> None:
        consortium.construct(self.tables, self._context(ACTORS[0].address))
        registry.construct(self.tables, DISPUTE_WINDOW_BLOCKS)
        self.tables.commit_transaction()

    def _context(self, sender: bytes) -> CallContext:
        return CallContext(sender, self.height, self.timestamp, CHAIN_ID, self.addresses)

    def call(self, sender: bytes, to: bytes, data: bytes, keep: bool) -> CallOutcome:
        outcome = call_system_contract(self.tables, self._context(sender), to, data, GAS)
        for log in outcome.logs:  # the event a log carries is the one its bytes decode to
            assert log.event == bindings.decode_event(log.topics, log.data) is not None
        if keep and outcome.success:
            self.tables.commit_transaction()
        else:
            self.tables.discard_transaction()
        logs = tuple((log.address, log.topics, log.data) for log in outcome.logs)
        return CallOutcome(outcome.success, outcome.output, logs, 0,  # type: ignore[arg-type]
                           outcome.revert_reason)


def _sign(key: Account, digest: bytes, forge: int) -> tuple[int, bytes, bytes]:
    v, r, s = key.sign_digest(digest)
    if forge == 1:
        v = 29
    elif forge == 2:
        s = (int.from_bytes(s, "big") ^ 1).to_bytes(32, "big")
    elif forge == 3:  # the malleable twin: high s
        order = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
        s = (order - int.from_bytes(s, "big")).to_bytes(32, "big")
        v = 55 - v
    return v, r, s


actor = st.integers(0, len(ACTORS) - 1)
enterprise = st.sampled_from([0, 0, 1, 1, 2, 3])


def sender(*likely: int) -> st.SearchStrategy[int]:
    """Mostly an actor holding the role the function needs, sometimes anyone."""
    return st.sampled_from([*likely, *likely, *likely, *range(len(ACTORS))])


REGULATOR, PUBLISHER, QUERIER, BUREAU, NODE = 0, 1, 2, 3, 4

record = st.integers(0, len(RECORD_IDS) - 1)
dispute = st.integers(0, len(DISPUTE_IDS) - 1)
payload = st.integers(0, len(HASHES) - 1)

STEP = st.one_of(
    st.tuples(st.just("admit"), sender(REGULATOR), actor,
              st.sampled_from([0, 1, 2, 3, 4, 8, 15, 16]),
              st.sampled_from([0, 1, 5, 8, 9]), st.integers(0, len(NAMES) - 1)),
    st.tuples(st.sampled_from(["suspend", "reinstate", "remove"]), sender(REGULATOR), actor),
    st.tuples(st.just("set_roles"), sender(REGULATOR), actor, st.sampled_from([0, 1, 2, 3, 6, 31])),
    st.tuples(st.sampled_from(["add_validator", "remove_validator"]), sender(REGULATOR),
              st.integers(0, len(NODE_IDS) - 1), st.sampled_from([0, 3, 9])),
    st.tuples(st.just("publish"), sender(PUBLISHER, BUREAU), record, enterprise,
              st.sampled_from([0, 7, 13, 14, 255]),
              payload),
    st.tuples(st.just("publish_batch"), sender(PUBLISHER, BUREAU),
              st.lists(st.tuples(record, enterprise, st.sampled_from([1, 13, 14]), payload),
                       max_size=4),
              st.booleans()),
    st.tuples(st.just("correct"), sender(PUBLISHER, BUREAU), record, record, payload),
    st.tuples(st.just("revoke"), sender(PUBLISHER, BUREAU, REGULATOR), record,
              st.sampled_from([0, 3])),
    st.tuples(st.just("open_dispute"), sender(QUERIER, BUREAU), dispute, record, payload),
    st.tuples(st.just("respond"), sender(PUBLISHER, BUREAU), dispute, payload),
    st.tuples(st.just("resolve"), sender(REGULATOR), dispute, st.booleans()),
    st.tuples(st.just("lapse"), actor, dispute),
    st.tuples(st.just("register_enterprise"), sender(PUBLISHER, REGULATOR), enterprise,
              st.integers(-1, len(ENTERPRISE_KEYS) - 1)),
    st.tuples(st.just("grant"), sender(QUERIER), enterprise,
              st.sampled_from([0, 1, 0x3FFF, 0x4000]),
              st.sampled_from([-10, 3600, 3600]), st.sampled_from([0, 0, 0, -1, 1]),
              st.sampled_from([0, 0, 0, 1, 2, 3])),
    st.tuples(st.just("register_enterprise_batch"), sender(PUBLISHER, REGULATOR),
              st.lists(st.tuples(enterprise, st.integers(-1, len(ENTERPRISE_KEYS) - 1)),
                       max_size=3),
              st.booleans()),
    st.tuples(st.just("grant_batch"), sender(QUERIER),
              st.lists(st.tuples(enterprise, st.sampled_from([1, 0x3FFF, 0x4000]),
                                 st.sampled_from([-10, 3600, 3600]),
                                 st.sampled_from([0, 0, 0, 1]), st.sampled_from([0, 0, 0, 2])),
                       max_size=3),
              st.booleans()),
    st.tuples(st.just("revoke_grant"), sender(QUERIER, BUREAU), enterprise, sender(QUERIER),
              st.sampled_from([0, 0, -1, 1]), st.sampled_from([0, 0, 0, 1, 2, 3])),
    st.tuples(st.just("anchor_audit"), sender(NODE), st.integers(0, len(NODE_IDS) - 1),
              st.integers(0, 3), payload, st.sampled_from([0, 5, 5])),
    st.tuples(st.just("garbage"), actor, st.sampled_from(["Consortium", "CreditRegistry",
                                                          "Authorization"]),
              st.binary(max_size=40)),
)
BLOCKS = st.lists(st.tuples(st.integers(1, 6), st.lists(STEP, min_size=2, max_size=12)),
                  min_size=2, max_size=8)


@dataclass
class Scenario:
    """Both engines, stepped together."""

    reference: Reference = field(default_factory=Reference)
    native: Native = field(init=False)
    sender: int = 0

    def __post_init__(self) -> None:
        self.native = Native(self.reference.addresses)
        # Genesis-like setup: a publisher, a querier and a node operator, so most steps matter.
        for index, roles in ((1, 1), (2, 2), (3, 3), (4, 8)):
            self.transact(0, self.reference.addresses.consortium,
                          bindings.encode_admit(ACTORS[index].address, roles, index, "m"))

    def advance(self, blocks: int) -> None:
        harness = self.reference.harness
        harness.set_block(harness.block_number + blocks,
                          harness.timestamp + blocks * SECONDS_PER_BLOCK)
        self.native.height = harness.block_number
        self.native.timestamp = harness.timestamp

    def transact(self, sender: int, to: bytes, data: bytes) -> None:
        address = ACTORS[sender].address
        expected = self.reference.call(address, to, data, keep=True)
        actual = self.native.call(address, to, data, keep=True)
        assert actual == expected, (bindings.function_for(data).name if len(data) >= 4
                                    and _known(data) else data.hex())

    def view(self, to: bytes, data: bytes) -> None:
        expected = self.reference.call(b"\0" * 20, to, data, keep=False)
        actual = self.native.call(b"\0" * 20, to, data, keep=False)
        assert actual == expected, bindings.function_for(data).name

    def run(self, step: tuple[Any, ...]) -> None:
        name, sender, *rest = step
        self.sender = sender
        to, data = self.calldata(name, rest)
        self.transact(sender, to, data)

    def calldata(self, name: str, rest: list[Any]) -> tuple[bytes, bytes]:
        addresses = self.reference.addresses
        timestamp = self.reference.harness.timestamp
        if name == "admit":
            who, roles, city, label = rest
            return addresses.consortium, bindings.encode_admit(
                ACTORS[who].address, roles, city, NAMES[label])
        if name in ("suspend", "reinstate", "remove"):
            return addresses.consortium, bindings.encode_call(name, ACTORS[rest[0]].address)
        if name == "set_roles":
            return addresses.consortium, bindings.encode_set_roles(ACTORS[rest[0]].address,
                                                                   rest[1])
        if name == "add_validator":
            return addresses.consortium, bindings.encode_add_validator(NODE_IDS[rest[0]],
                                                                       rest[1])
        if name == "remove_validator":
            return addresses.consortium, bindings.encode_remove_validator(NODE_IDS[rest[0]])
        if name == "publish":
            rid, ent, kind, pay = rest
            return addresses.registry, bindings.encode_publish(
                RECORD_IDS[rid], ENTERPRISES[ent], kind, HASHES[pay])
        if name == "publish_batch":
            items, mismatch = rest
            arrays = [[RECORD_IDS[i[0]] for i in items], [ENTERPRISES[i[1]] for i in items],
                      [i[2] for i in items], [HASHES[i[3]] for i in items]]
            if mismatch and items:
                arrays[2] = arrays[2][:-1]
            return addresses.registry, bindings.encode_call("publish_batch", *arrays)
        if name == "correct":
            return addresses.registry, bindings.encode_correct(
                RECORD_IDS[rest[0]], RECORD_IDS[rest[1]], HASHES[rest[2]])
        if name == "revoke":
            return addresses.registry, bindings.encode_revoke(RECORD_IDS[rest[0]], rest[1])
        if name == "open_dispute":
            return addresses.registry, bindings.encode_open_dispute(
                DISPUTE_IDS[rest[0]], RECORD_IDS[rest[1]], HASHES[rest[2]])
        if name == "respond":
            return addresses.registry, bindings.encode_respond(DISPUTE_IDS[rest[0]],
                                                               HASHES[rest[1]])
        if name == "resolve":
            return addresses.registry, bindings.encode_resolve(DISPUTE_IDS[rest[0]], rest[1])
        if name == "lapse":
            return addresses.registry, bindings.encode_lapse(DISPUTE_IDS[rest[0]])
        if name == "register_enterprise":
            ent, key = rest
            address = ENTERPRISE_KEYS[key].address if key >= 0 else b"\0" * 20
            return addresses.authorization, bindings.encode_register_enterprise(
                ENTERPRISES[ent], address)
        if name == "grant":
            return self._grant([self.sender, *rest], timestamp)
        if name == "register_enterprise_batch":
            pairs, mismatch = rest
            enterprises = [ENTERPRISES[ent] for ent, _ in pairs]
            keys = [ENTERPRISE_KEYS[key].address if key >= 0 else b"\0" * 20 for _, key in pairs]
            if mismatch and keys:
                keys = keys[:-1]
            return addresses.authorization, bindings.encode_call(
                "register_enterprise_batch", enterprises, keys)
        if name == "grant_batch":
            return self._grant_batch(rest, timestamp)
        if name == "revoke_grant":
            return self._revoke_grant(rest)
        if name == "anchor_audit":
            node, seq, root, count = rest
            return addresses.authorization, bindings.encode_anchor_audit(
                NODE_IDS[node], seq, HASHES[root], count)
        contract, noise = rest
        address = {"Consortium": addresses.consortium, "CreditRegistry": addresses.registry,
                   "Authorization": addresses.authorization}[contract]
        return address, noise

    def _nonce(self, enterprise_bytes: bytes) -> int:
        output = self.reference.call(b"\0" * 20, self.reference.addresses.authorization,
                                     bindings.encode_grant_nonce_of(enterprise_bytes), keep=False)
        return int.from_bytes(output.output, "big")

    def _key_for(self, enterprise_bytes: bytes) -> Account:
        output = self.reference.call(b"\0" * 20, self.reference.addresses.authorization,
                                     bindings.encode_enterprise_key(enterprise_bytes), keep=False)
        address = output.output[12:]
        for key in ENTERPRISE_KEYS:
            if key.address == address:
                return key
        return ENTERPRISE_KEYS[0]

    def _grant(self, rest: list[Any], timestamp: int) -> tuple[bytes, bytes]:
        querier, ent, scope, expires_in, nonce_shift, forge = rest
        enterprise_bytes = ENTERPRISES[ent]
        nonce = self._nonce(enterprise_bytes) + nonce_shift
        expires_at = timestamp + expires_in
        sender = ACTORS[querier].address
        digest = grant_digest(CHAIN_ID, self.reference.addresses.authorization, enterprise_bytes,
                              sender, scope, expires_at, max(nonce, 0))
        v, r, s = _sign(self._key_for(enterprise_bytes), digest, forge)
        return self.reference.addresses.authorization, bindings.encode_grant(
            enterprise_bytes, scope, expires_at, max(nonce, 0), v, r, s)

    def _grant_batch(self, rest: list[Any], timestamp: int) -> tuple[bytes, bytes]:
        entries, mismatch = rest
        used: dict[bytes, int] = {}
        items = []
        for ent, scope, expires_in, nonce_shift, forge in entries:
            enterprise_bytes = ENTERPRISES[ent]
            nonce = self._nonce(enterprise_bytes) + used.get(enterprise_bytes, 0) + nonce_shift
            used[enterprise_bytes] = used.get(enterprise_bytes, 0) + 1
            expires_at = timestamp + expires_in
            digest = grant_digest(CHAIN_ID, self.reference.addresses.authorization,
                                  enterprise_bytes, ACTORS[self.sender].address, scope,
                                  expires_at, nonce)
            v, r, s = _sign(self._key_for(enterprise_bytes), digest, forge)
            items.append(bindings.GrantItem(enterprise_bytes, scope, expires_at, nonce, v, r, s))
        data = bindings.encode_grant_batch(items)
        if mismatch and items:
            columns = [[getattr(item, f) for item in items] for f in
                       ("enterprise", "scope", "expires_at", "grant_nonce", "v", "r", "s")]
            columns[4] = columns[4][:-1]
            data = bindings.encode_call("grant_batch", *columns)
        return self.reference.addresses.authorization, data

    def _revoke_grant(self, rest: list[Any]) -> tuple[bytes, bytes]:
        ent, querier, nonce_shift, forge = rest
        enterprise_bytes = ENTERPRISES[ent]
        nonce = max(self._nonce(enterprise_bytes) + nonce_shift, 0)
        digest = revocation_digest(CHAIN_ID, self.reference.addresses.authorization,
                                   enterprise_bytes, ACTORS[querier].address, nonce)
        v, r, s = _sign(self._key_for(enterprise_bytes), digest, forge)
        return self.reference.addresses.authorization, bindings.encode_revoke_grant(
            enterprise_bytes, ACTORS[querier].address, nonce, v, r, s)

    def compare_views(self) -> None:
        addresses = self.reference.addresses
        calls: list[tuple[bytes, bytes]] = [
            (addresses.consortium, bindings.encode_validator_count()),
            (addresses.consortium, bindings.encode_regulator()),
            (addresses.registry, bindings.encode_dispute_window()),
            (addresses.registry, bindings.encode_consortium()),
            (addresses.authorization, bindings.encode_consortium()),
            (addresses.authorization, bindings.encode_domain_separator()),
        ]
        for account in ACTORS:
            calls.append((addresses.consortium, bindings.encode_institution(account.address)))
            for role in (1, 2, 8, 6):
                calls.append((addresses.consortium,
                              bindings.encode_has_role(account.address, role)))
        for node in NODE_IDS:
            calls += [(addresses.consortium, bindings.encode_is_validator(node)),
                      (addresses.consortium, bindings.encode_validator_city(node)),
                      (addresses.authorization, bindings.encode_last_audit_seq(node)),
                      (addresses.authorization, bindings.encode_audit_account(node))]
            calls += [(addresses.authorization, bindings.encode_audit_root(node, seq))
                      for seq in range(3)]
        calls += [(addresses.registry, bindings.encode_record(rid)) for rid in RECORD_IDS]
        calls += [(addresses.registry, bindings.encode_dispute(did)) for did in DISPUTE_IDS]
        for ent in ENTERPRISES:
            calls += [(addresses.registry, bindings.encode_record_count(ent)),
                      (addresses.authorization, bindings.encode_enterprise_key(ent)),
                      (addresses.authorization, bindings.encode_grant_nonce_of(ent))]
            calls += [(addresses.registry, bindings.encode_record_at(ent, i)) for i in range(4)]
            for account in ACTORS[:4]:
                calls.append((addresses.authorization,
                              bindings.encode_grant_of(ent, account.address)))
                calls += [(addresses.authorization,
                           bindings.encode_is_authorized(ent, account.address, kind))
                          for kind in (0, 14)]
        for to, data in calls:
            self.view(to, data)


def _known(data: bytes) -> bool:
    try:
        bindings.function_for(data)
    except bindings.UnknownFunctionError:
        return False
    return True


@seed(20_261_130)
@settings(max_examples=14, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BLOCKS)
def test_native_engine_agrees_with_the_vyper_contracts(blocks: list[Any]) -> None:
    scenario = Scenario()
    scenario.compare_views()
    for gap, steps in blocks:
        scenario.advance(gap)
        for step in steps:
            scenario.run(step)
        scenario.compare_views()


def test_a_full_publish_and_dispute_story_agrees() -> None:
    """A fixed path that reaches deep states random steps rarely reach."""
    scenario = Scenario()
    script: list[tuple[Any, ...]] = [
        ("register_enterprise", 1, 0, 0),
        ("grant", 2, 0, 0x3FFF, 3600, 0, 0),
        ("publish", 1, 1, 0, 7, 1),
        ("publish_batch", 3, [(2, 1, 1, 1), (3, 0, 13, 2)], False),
        ("correct", 1, 1, 4, 2),
        ("open_dispute", 2, 1, 4, 1),
        ("respond", 1, 1, 2),
        ("open_dispute", 2, 2, 2, 1),
        ("anchor_audit", 4, 1, 1, 1, 5),
        ("anchor_audit", 4, 1, 2, 2, 5),
        ("register_enterprise_batch", 0, [(1, 1), (0, 2)], False),
        ("grant_batch", 3, [(0, 1, 3600, 0, 0), (1, 0x3FFF, 3600, 0, 0)], False),
        ("revoke_grant", 3, 0, 2, 0, 0),
    ]
    for step in script:
        scenario.run(step)
    scenario.compare_views()
    scenario.advance(DISPUTE_WINDOW_BLOCKS + 1)
    for step in [("lapse", 5, 2), ("resolve", 0, 2, True), ("resolve", 0, 1, True),
                 ("revoke", 0, 3, 3), ("suspend", 0, 2), ("set_roles", 0, 2, 3),
                 ("reinstate", 0, 2), ("remove", 0, 3)]:
        scenario.run(step)
    scenario.compare_views()


DIVISIONS = ["310115", "320102", "320402", "320505", "321302", "330106", "331002", "340104",
             "110101", "320301", "330201", "3A0101"]
CODE_CHARACTERS = "0123456789ABCDEFGHJKLMNPQRTUWXYIOSVZa\x00 "


@st.composite
def enterprise_words(draw: st.DrawFn) -> bytes:
    """32-byte words near a valid credit code: right or wrong check, division, case, padding."""
    head = draw(st.text(CODE_CHARACTERS, min_size=2, max_size=2))
    division = draw(st.sampled_from(DIVISIONS))
    body = draw(st.text(CODE_CHARACTERS[:31], min_size=9, max_size=9))
    first_seventeen = head + division + body
    try:
        check = check_character(first_seventeen)
    except KeyError:
        check = "0"
    if draw(st.booleans()):
        check = draw(st.text(CODE_CHARACTERS, min_size=1, max_size=1))
    word = (first_seventeen + check).encode("latin-1").ljust(32, b"\0")
    if draw(st.integers(0, 9)) == 0:
        word = word[:31] + b"\x01"
    return word


@seed(20_261_201)
@settings(max_examples=60, deadline=None)
@given(st.lists(enterprise_words(), min_size=1, max_size=8))
def test_both_engines_accept_the_same_enterprise_words(words: list[bytes]) -> None:
    scenario = Scenario()
    for index, word in enumerate(words):
        data = bindings.encode_publish(bytes([index + 1]) * 32, word, 1, HASHES[1])
        scenario.transact(PUBLISHER, scenario.reference.addresses.registry, data)
        assert (scenario.native.tables.load(b"r" + bytes([index + 1]) * 32) is not None) == (
            is_credit_code_bytes32(word))
