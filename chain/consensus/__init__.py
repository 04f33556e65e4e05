"""BFT consensus of the city nodes: a QBFT variant written as a pure state machine.

Feed events to `ConsensusState.handle` and carry out the returned actions; see
docs/spec/consensus.md for the protocol and docs/adr/0002-consensus-qbft-variant.md for why.
One driver carries the actions out: `nodes.runtime.node.NodeRuntime`, in a real process and in
the simulator alike; faulty behaviours are in `simulator.byzantine_actions`.
"""

from chain.consensus.actions import (
    Action,
    Broadcast,
    BuildBlock,
    CommitBlock,
    ExecuteBlock,
    Persist,
    Report,
    ReportKind,
    RequestSync,
    ScheduleTimeout,
    SendTo,
)
from chain.consensus.certificate import (
    CommitCertificate,
    decode_certificate,
    encode_certificate,
    verify_certificate,
)
from chain.consensus.codec import decode_message, encode_message
from chain.consensus.config import ConsensusConfig
from chain.consensus.errors import (
    CertificateError,
    CodecError,
    ConsensusError,
    MalformedMessageError,
    MessageTooLargeError,
)
from chain.consensus.events import (
    BlockBuilt,
    BlockExecuted,
    BlockSynced,
    Event,
    MessageReceived,
    Start,
    Tick,
    TransactionsPending,
)
from chain.consensus.messages import Commit, Message, Prepare, Proposal, RoundChange
from chain.consensus.persistence import (
    PersistedState,
    decode_persisted_state,
    encode_persisted_state,
)
from chain.consensus.signing import Signer, verify_message
from chain.consensus.state import ConsensusState
from chain.consensus.validators import Validator, ValidatorSet

__all__ = [
    "Action",
    "BlockBuilt",
    "BlockExecuted",
    "BlockSynced",
    "Broadcast",
    "BuildBlock",
    "CertificateError",
    "CodecError",
    "Commit",
    "CommitBlock",
    "CommitCertificate",
    "ConsensusConfig",
    "ConsensusError",
    "ConsensusState",
    "Event",
    "ExecuteBlock",
    "MalformedMessageError",
    "Message",
    "MessageReceived",
    "MessageTooLargeError",
    "Persist",
    "PersistedState",
    "Prepare",
    "Proposal",
    "Report",
    "ReportKind",
    "RequestSync",
    "RoundChange",
    "ScheduleTimeout",
    "SendTo",
    "Signer",
    "Start",
    "Tick",
    "TransactionsPending",
    "Validator",
    "ValidatorSet",
    "decode_certificate",
    "decode_message",
    "decode_persisted_state",
    "encode_certificate",
    "encode_message",
    "encode_persisted_state",
    "verify_certificate",
    "verify_message",
]
