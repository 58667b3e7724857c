//! The node's gRPC services, as hiero-sdk-proto's generated tonic server traits.
//!
//! A Hedera node handles a transaction by its body, not by the route it came on (the SDK sends
//! `ScheduleSign` on `deleteSchedule`), and so does the devnet: every transaction route of
//! these services goes to [`Node::submit`], which answers `NOT_SUPPORTED` for bodies it does not
//! execute. Query routes go to [`Node::query`], which dispatches on the query's kind. Routes the
//! devnet does not serve answer `UNIMPLEMENTED`, as do services it does not register (files,
//! contracts, freeze, utilities, address book).

use std::sync::Arc;

use hiero_sdk_proto::services as pb;
use hiero_sdk_proto::services::consensus_service_server::ConsensusService;
use hiero_sdk_proto::services::crypto_service_server::CryptoService;
use hiero_sdk_proto::services::network_service_server::NetworkService;
use hiero_sdk_proto::services::schedule_service_server::ScheduleService;
use hiero_sdk_proto::services::token_service_server::TokenService;
use tonic::{Request, Response, Status};

use super::node::Node;
use super::queries::unimplemented;

/// Implements a generated service trait for a wrapper of the node: `submit` routes take
/// transactions to consensus, `query` routes answer queries, `no_query` and `no_submit` routes
/// answer `UNIMPLEMENTED`.
macro_rules! node_service {
    (
        $service:ident for $wrapper:ident {
            submit: [$($submit:ident),* $(,)?],
            query: [$($query:ident),* $(,)?],
            no_query: [$($no_query:ident),* $(,)?],
            no_submit: [$($no_submit:ident),* $(,)?] $(,)?
        }
    ) => {
        #[doc = concat!("`proto.", stringify!($service), "` served by the devnet's node.")]
        pub(crate) struct $wrapper(pub(crate) Arc<Node>);

        #[tonic::async_trait]
        impl $service for $wrapper {
            $(
                async fn $submit(
                    &self,
                    request: Request<pb::Transaction>,
                ) -> Result<Response<pb::TransactionResponse>, Status> {
                    self.0.submit(request.into_inner()).await.map(Response::new)
                }
            )*
            $(
                async fn $query(&self, request: Request<pb::Query>) -> Result<Response<pb::Response>, Status> {
                    self.0.query(request.into_inner()).await.map(Response::new)
                }
            )*
            $(
                async fn $no_query(&self, _request: Request<pb::Query>) -> Result<Response<pb::Response>, Status> {
                    Err(unimplemented(stringify!($no_query)))
                }
            )*
            $(
                async fn $no_submit(
                    &self,
                    _request: Request<pb::Transaction>,
                ) -> Result<Response<pb::TransactionResponse>, Status> {
                    Err(unimplemented(stringify!($no_submit)))
                }
            )*
        }
    };
}

node_service!(CryptoService for Crypto {
    submit: [
        create_account, update_account, crypto_transfer, crypto_delete, approve_allowances,
        delete_allowances, add_live_hash, delete_live_hash,
    ],
    query: [crypto_get_balance, get_account_info, get_transaction_receipts, get_tx_record_by_tx_id],
    no_query: [get_live_hash, get_account_records],
    no_submit: [],
});

node_service!(ConsensusService for Consensus {
    submit: [create_topic, update_topic, delete_topic, submit_message],
    query: [get_topic_info],
    no_query: [],
    no_submit: [],
});

node_service!(TokenService for Token {
    submit: [
        create_token, update_token, mint_token, burn_token, delete_token, wipe_token_account,
        freeze_token_account, unfreeze_token_account, grant_kyc_to_token_account,
        revoke_kyc_from_token_account, associate_tokens, dissociate_tokens, update_token_fee_schedule,
        pause_token, unpause_token, update_nfts, reject_token, airdrop_tokens, cancel_airdrop,
        claim_airdrop,
    ],
    query: [get_token_info],
    no_query: [get_token_nft_info],
    no_submit: [],
});

node_service!(ScheduleService for Schedule {
    submit: [create_schedule, sign_schedule, delete_schedule],
    query: [],
    no_query: [get_schedule_info],
    no_submit: [],
});

node_service!(NetworkService for Network {
    submit: [],
    query: [get_version_info],
    no_query: [get_account_details, get_execution_time],
    no_submit: [unchecked_submit],
});
