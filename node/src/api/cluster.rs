//! `warden.v1.ClusterService`: initialization, membership changes and status. A
//! membership change received by a follower is passed on to the leader unchanged; the
//! leader checks it (`membership.rs`), records it under the admin who asked, then makes
//! it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use openraft::error::{ClientWriteError, InitializeError, RaftError};
use openraft::{BasicNode, ChangeMembers, ServerState};
use tonic::{Request, Response, Status};
use warden_proto::v1::cluster_service_client::ClusterServiceClient;
use warden_proto::v1::cluster_service_server::ClusterService;
use warden_proto::v1::{
    AddNodeRequest, AddNodeResponse, ClusterStatusRequest, ClusterStatusResponse,
    CreateBackupRequest, InitClusterRequest, InitClusterResponse, Member, MemberRole,
    PromoteNodeRequest, PromoteNodeResponse, RemoveNodeRequest, RemoveNodeResponse,
};
use warden_raft::NodeId;

use warden_core::anchor::{DEFAULT_CHECKPOINT_INTERVAL, MIN_CHECKPOINT_INTERVAL};
use warden_core::{
    Action, AuditKey, Command, MembershipChange, NodeId as CoreNodeId, Outcome, Permission,
    Principal,
};

use crate::api::membership;
use crate::api::{Payload, now_ms, recorded, unexpected};
use crate::auth::{Caller, generate_token};
use crate::bootstrap::{BootstrapToken, Refusal};
use crate::cluster::Cluster;
use crate::error::Error;
use crate::runtime::liveness::Leases;

pub struct ClusterAdmin {
    cluster: Cluster,
    /// The address this node advertises to peers.
    advertise: String,
    bootstrap: BootstrapToken,
    /// The public id of this node's master key, which a node to add must share.
    master_key_id: Option<String>,
    /// How close to the leader's log a learner must be to be promoted.
    catch_up_lag: u64,
    /// This node's audit public key, registered by `InitCluster` when the cluster starts here.
    audit_key: Option<AuditKey>,
    /// The members' leases, which the status shows while this node leads.
    leases: Leases,
}

impl ClusterAdmin {
    pub fn new(
        cluster: Cluster,
        advertise: String,
        bootstrap: BootstrapToken,
        master_key_id: Option<String>,
        catch_up_lag: u64,
        audit_key: Option<AuditKey>,
        leases: Leases,
    ) -> ClusterAdmin {
        ClusterAdmin {
            cluster,
            advertise,
            bootstrap,
            master_key_id,
            catch_up_lag,
            audit_key,
            leases,
        }
    }

    /// Checks the caller's cluster role before anything is probed on its behalf; a
    /// refusal is recorded (the command is proposed, and `apply()` refuses it).
    async fn require_admin(&self, caller: &Caller, change: &MembershipChange) -> Result<(), Error> {
        match caller.require(&self.cluster, None, Permission::Administer) {
            Ok(()) => Ok(()),
            Err(_) => membership::authorize(&self.cluster, caller, change.clone()).await,
        }
    }

    /// A client of the leader's cluster service, when another node leads.
    fn leader_client(
        &self,
    ) -> Result<Option<ClusterServiceClient<crate::peers::PeerChannel>>, Error> {
        match self.cluster.leader() {
            Some((id, _)) if id == self.cluster.node_id() => Ok(None),
            Some((id, address)) => Ok(Some(ClusterServiceClient::new(
                self.cluster.peers().channel(id, &address)?,
            ))),
            None => Err(Error::NoLeader),
        }
    }

    async fn change(&self, change: ChangeMembers<NodeId, BasicNode>) -> Result<u64, Error> {
        let waited = self.cluster.limits().membership_timeout;
        let result =
            tokio::time::timeout(waited, self.cluster.raft().change_membership(change, false))
                .await;
        match result {
            Err(_elapsed) => Err(Error::NoQuorum { waited }),
            Ok(Ok(response)) => Ok(response.log_id.index),
            Ok(Err(error)) => Err(membership_error(error)),
        }
    }
    /// Adds a learner, on the leader: checks the caller, the request and the node, records
    /// the change under the caller, then waits for the learner to catch up.
    async fn add_node_here(
        &self,
        caller: &Caller,
        request: &AddNodeRequest,
    ) -> Result<AddNodeResponse, Error> {
        let node_id = check_node_id(request.node_id)?;
        if request.address.parse::<std::net::SocketAddr>().is_err()
            && !request.address.contains(':')
        {
            return Err(Error::InvalidArgument {
                field: "address",
                message: format!("{:?} is not host:port", request.address),
            });
        }
        // The key is known once the node answered who it is; refusals before that are
        // recorded without one.
        let change = MembershipChange::AddLearner {
            node: CoreNodeId(node_id),
            address: request.address.clone(),
            audit_key: None,
        };
        self.require_admin(caller, &change).await?;
        // Held until the learner is in: the leader raises no protocol meanwhile, so the
        // build checked below cannot fall behind the cluster's before it joins.
        let _adding = self.cluster.membership_lock().lock().await;
        if self
            .cluster
            .raft()
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .get_node(&node_id)
            .is_some()
        {
            return Err(Error::Membership(format!(
                "node {node_id} is already a member; remove it first to change its address"
            )));
        }
        let audit_key = membership::check_new_node(
            &self.cluster,
            caller,
            &change,
            &request.address,
            self.master_key_id.as_deref(),
        )
        .await?;
        let change = MembershipChange::AddLearner {
            node: CoreNodeId(node_id),
            address: request.address.clone(),
            audit_key,
        };
        membership::authorize(&self.cluster, caller, change).await?;
        let waited = self.cluster.limits().membership_timeout;
        // Blocking: returns once the learner has caught up (by snapshot if the log it
        // needs was purged), so a promotion right after cannot stall the quorum.
        let add = self
            .cluster
            .raft()
            .add_learner(node_id, BasicNode::new(&request.address), true);
        match tokio::time::timeout(waited, add).await {
            Err(_elapsed) => Err(Error::NoQuorum { waited }),
            Ok(Ok(response)) => Ok(AddNodeResponse {
                log_index: response.log_id.index,
            }),
            Ok(Err(error)) => Err(membership_error(error)),
        }
    }

    /// Makes a caught-up learner a voter, on the leader.
    async fn promote_node_here(
        &self,
        caller: &Caller,
        node_id: u64,
    ) -> Result<PromoteNodeResponse, Error> {
        let node_id = check_node_id(node_id)?;
        let change = MembershipChange::Promote {
            node: CoreNodeId(node_id),
        };
        self.require_admin(caller, &change).await?;
        membership::check_caught_up(&self.cluster, caller, &change, self.catch_up_lag).await?;
        membership::authorize(&self.cluster, caller, change).await?;
        let log_index = self
            .change(ChangeMembers::AddVoterIds(BTreeSet::from([node_id])))
            .await?;
        Ok(PromoteNodeResponse { log_index })
    }

    /// Removes a voter or a learner, on the leader.
    async fn remove_node_here(
        &self,
        caller: &Caller,
        node_id: u64,
    ) -> Result<RemoveNodeResponse, Error> {
        let node_id = check_node_id(node_id)?;
        let membership_change = MembershipChange::Remove {
            node: CoreNodeId(node_id),
        };
        self.require_admin(caller, &membership_change).await?;
        let membership = self
            .cluster
            .raft()
            .metrics()
            .borrow()
            .membership_config
            .clone();
        let is_voter = membership.membership().voter_ids().any(|id| id == node_id);
        let is_member = membership.membership().get_node(&node_id).is_some();
        let change = match (is_voter, is_member) {
            (true, _) => ChangeMembers::RemoveVoters(BTreeSet::from([node_id])),
            (false, true) => ChangeMembers::RemoveNodes(BTreeSet::from([node_id])),
            (false, false) => {
                return Err(Error::NotFound {
                    what: format!("node {node_id}"),
                });
            }
        };
        membership::authorize(&self.cluster, caller, membership_change).await?;
        let log_index = self.change(change).await?;
        Ok(RemoveNodeResponse { log_index })
    }
}

/// What a refused membership request is recorded as.
fn refusal_of(node_id: u64, request: &impl prost::Message) -> (Action, String, Payload) {
    (
        Action::ClusterMembership,
        format!("cluster/node/{node_id}"),
        Payload::of(request),
    )
}

fn membership_error(error: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>) -> Error {
    match error {
        RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => Error::NoLeader,
        RaftError::APIError(ClientWriteError::ChangeMembershipError(error)) => {
            Error::Membership(error.to_string())
        }
        RaftError::Fatal(_) => Error::Stopped,
    }
}

fn check_node_id(node_id: u64) -> Result<NodeId, Error> {
    if node_id == 0 {
        return Err(Error::InvalidArgument {
            field: "node_id",
            message: "must be positive".to_owned(),
        });
    }
    Ok(node_id)
}

#[tonic::async_trait]
impl ClusterService for ClusterAdmin {
    type CreateBackupStream = crate::api::backup::BackupStream;

    async fn create_backup(
        &self,
        request: Request<CreateBackupRequest>,
    ) -> Result<Response<Self::CreateBackupStream>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(
            crate::api::backup::create(&self.cluster, &caller).await?,
        ))
    }

    async fn init_cluster(
        &self,
        request: Request<InitClusterRequest>,
    ) -> Result<Response<InitClusterResponse>, Status> {
        let request = request.into_inner();
        let admin = match request.admin.as_str() {
            "" => "user/admin".to_owned(),
            admin => admin.to_owned(),
        };
        let admin = Principal::parse(&admin).map_err(|error| Error::InvalidArgument {
            field: "admin",
            message: error.to_string(),
        })?;
        let checkpoint_interval = match request.checkpoint_interval {
            0 => DEFAULT_CHECKPOINT_INTERVAL,
            interval if interval < MIN_CHECKPOINT_INTERVAL => {
                return Err(Error::InvalidArgument {
                    field: "checkpoint_interval",
                    message: format!("must be at least {MIN_CHECKPOINT_INTERVAL} records"),
                }
                .into());
            }
            interval => interval,
        };
        if self
            .cluster
            .reader()
            .bootstrapped()
            .map_err(Error::from)?
            .is_some()
        {
            return Err(Error::AlreadyInitialized.into());
        }
        match self.bootstrap.check(&request.bootstrap_token) {
            Ok(()) => {}
            Err(Refusal::NotConfigured) => return Err(Error::NoBootstrapToken.into()),
            Err(Refusal::Mismatch) => {
                return Err(Error::Unauthenticated(format!(
                    "the bootstrap token is {}: pass the one node {} was started with (`wardenctl cluster init --bootstrap-token-file FILE`)",
                    if request.bootstrap_token.is_empty() { "missing" } else { "wrong" },
                    self.cluster.node_id()
                ))
                .into());
            }
        }
        let node_id = self.cluster.node_id();
        let members = BTreeMap::from([(node_id, BasicNode::new(&self.advertise))]);
        match self.cluster.raft().initialize(members).await {
            // Initialized but without an admin: an earlier init stopped in between.
            Ok(()) | Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
            Err(RaftError::APIError(InitializeError::NotInMembers(error))) => {
                return Err(Error::Internal(error.to_string()).into());
            }
            Err(RaftError::Fatal(_)) => return Err(Error::Stopped.into()),
        }
        let token = generate_token();
        let bootstrap = warden_core::Request {
            time_ms: now_ms(),
            principal: Principal::system(),
            token: None,
            command: Command::Bootstrap {
                principal: admin.clone(),
                token: token.id,
                secret_hash: token.secret_hash(),
                node: CoreNodeId(node_id),
                audit_key: self.audit_key,
                checkpoint_interval,
            },
        };
        match self.cluster.propose(bootstrap).await? {
            Outcome::TokenCreated(_) => {
                // A new cluster runs its first node's protocol from the start; should this
                // fail, the controller raises it at its next tick.
                // Its only member is this node, which reports itself as it raises.
                let fresh = std::time::Duration::from_secs(1);
                if let Err(error) = crate::runtime::protocol::raise(&self.cluster, fresh).await {
                    tracing::warn!(%error, "setting the new cluster's protocol failed");
                }
                Ok(Response::new(InitClusterResponse {
                    node_id,
                    address: self.advertise.clone(),
                    admin: admin.to_string(),
                    admin_token: token.expose(),
                }))
            }
            Outcome::Rejected(_) => Err(Error::AlreadyInitialized.into()),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn add_node(
        &self,
        request: Request<AddNodeRequest>,
    ) -> Result<Response<AddNodeResponse>, Status> {
        let caller = Caller::of(&request)?;
        if let Some(mut leader) = self.leader_client()? {
            return leader.add_node(request).await;
        }
        let request = request.into_inner();
        let result = self.add_node_here(&caller, &request).await;
        let what = refusal_of(request.node_id, &request);
        let added = recorded(&self.cluster, &caller, what, result).await?;
        Ok(Response::new(added))
    }

    async fn promote_node(
        &self,
        request: Request<PromoteNodeRequest>,
    ) -> Result<Response<PromoteNodeResponse>, Status> {
        let caller = Caller::of(&request)?;
        if let Some(mut leader) = self.leader_client()? {
            return leader.promote_node(request).await;
        }
        let request = request.into_inner();
        let result = self.promote_node_here(&caller, request.node_id).await;
        let what = refusal_of(request.node_id, &request);
        let promoted = recorded(&self.cluster, &caller, what, result).await?;
        Ok(Response::new(promoted))
    }

    async fn remove_node(
        &self,
        request: Request<RemoveNodeRequest>,
    ) -> Result<Response<RemoveNodeResponse>, Status> {
        let caller = Caller::of(&request)?;
        if let Some(mut leader) = self.leader_client()? {
            return leader.remove_node(request).await;
        }
        let request = request.into_inner();
        let result = self.remove_node_here(&caller, request.node_id).await;
        let what = refusal_of(request.node_id, &request);
        let removed = recorded(&self.cluster, &caller, what, result).await?;
        Ok(Response::new(removed))
    }

    async fn cluster_status(
        &self,
        _request: Request<ClusterStatusRequest>,
    ) -> Result<Response<ClusterStatusResponse>, Status> {
        let metrics = self.cluster.raft().metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let last_log_index = metrics.last_log_index.unwrap_or(0);
        let matched = |id: NodeId| -> Option<u64> {
            let replication = metrics.replication.as_ref()?;
            replication
                .get(&id)
                .map(|log_id| log_id.map_or(0, |log_id| log_id.index))
        };
        let leading = metrics.state == ServerState::Leader;
        let builds = self.cluster.member_builds();
        let mut owned: HashMap<u64, u32> = HashMap::new();
        for (_, _, active) in self.cluster.reader().active_tasks().map_err(Error::from)? {
            if let Some(owner) = active.owner {
                *owned.entry(owner.0).or_default() += 1;
            }
        }
        let members: Vec<Member> = membership
            .nodes()
            .map(|(id, node)| {
                let build = builds
                    .get(metrics.current_term, CoreNodeId(*id))
                    .filter(|_| leading);
                let lease = leading.then(|| self.leases.of(CoreNodeId(*id)));
                let matched_index = if *id == metrics.id && metrics.state == ServerState::Leader {
                    Some(last_log_index)
                } else {
                    matched(*id)
                };
                Member {
                    node_id: *id,
                    address: node.addr.clone(),
                    role: if voters.contains(id) {
                        MemberRole::Voter
                    } else {
                        MemberRole::Learner
                    }
                    .into(),
                    matched_index,
                    lag: matched_index.map(|index| last_log_index.saturating_sub(index)),
                    protocol: build.as_ref().map(|build| build.protocol),
                    version: build.map(|build| build.version),
                    heard_ms_ago: lease.and_then(|lease| lease.heard_ms_ago),
                    capacity: lease.and_then(|lease| lease.capacity),
                    lease_holds: lease.map(|lease| lease.holds),
                    owned_tasks: owned.get(id).copied().unwrap_or(0),
                }
            })
            .collect();
        let applied_index = metrics.last_applied.map_or(0, |log_id| log_id.index);
        let committed_index = crate::cluster::committed_index(&metrics);
        Ok(Response::new(ClusterStatusResponse {
            node_id: metrics.id,
            leader_id: metrics.current_leader,
            term: metrics.current_term,
            last_log_index,
            committed_index,
            applied_index,
            snapshot_index: metrics.snapshot.map(|log_id| log_id.index),
            purged_index: metrics.purged.map(|log_id| log_id.index),
            members,
            state: state_name(metrics.state, !voters.contains(&metrics.id)).to_owned(),
            cluster_protocol: self
                .cluster
                .reader()
                .cluster_protocol()
                .map_err(Error::from)?,
            protocol: self.cluster.build().protocol,
            version: self.cluster.build().version.clone(),
        }))
    }
}

fn state_name(state: ServerState, learner: bool) -> &'static str {
    match state {
        ServerState::Leader => "leader",
        ServerState::Candidate => "candidate",
        ServerState::Shutdown => "shutdown",
        ServerState::Learner => "learner",
        ServerState::Follower if learner => "learner",
        ServerState::Follower => "follower",
    }
}
