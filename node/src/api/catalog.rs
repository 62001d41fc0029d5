//! `warden.v1.CatalogService`: the cluster's catalog of stdio MCP servers. Writes are
//! decided (cluster admins only) and audited in `apply()`; reads are open to any
//! authenticated caller, who needs the entries to register servers by them.

use prost::Message;
use tonic::{Request, Response, Status};
use warden_core::{Action, CatalogName, Code, Command, Outcome, Rejection};
use warden_proto::v1::catalog_service_server::CatalogService;
use warden_proto::v1::{
    DeleteCatalogEntryRequest, DeleteCatalogEntryResponse, GetCatalogEntryRequest,
    GetCatalogEntryResponse, ListCatalogEntriesRequest, ListCatalogEntriesResponse,
    PutCatalogEntryRequest, PutCatalogEntryResponse,
};

use super::{Refused, propose, unexpected};
use crate::api::Payload;
use crate::auth::Caller;
use crate::cluster::{Cluster, Consistency};
use crate::convert;
use crate::error::Error;

pub struct Catalog {
    cluster: Cluster,
}

impl Catalog {
    pub fn new(cluster: Cluster) -> Catalog {
        Catalog { cluster }
    }
}

/// The entry name, or a refusal to be recorded against `catalog/<name>`.
fn parse_name(name: &str, action: Action, request: &impl Message) -> Result<CatalogName, Refused> {
    CatalogName::parse(name).map_err(|error| Refused {
        action,
        resource: format!("catalog/{}", convert::sanitized(name)),
        payload: Payload::of(request),
        rejection: Rejection::new(Code::InvalidArgument, error.to_string()),
    })
}

#[tonic::async_trait]
impl CatalogService for Catalog {
    async fn put_catalog_entry(
        &self,
        request: Request<PutCatalogEntryRequest>,
    ) -> Result<Response<PutCatalogEntryResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let entry = request.entry.clone().unwrap_or_default();
        let parsed = parse_name(&entry.name, Action::CatalogPut, &request).map(|name| {
            Command::PutCatalogEntry {
                spec: convert::catalog_spec(entry, name),
            }
        });
        match propose(&self.cluster, &caller, parsed).await? {
            Outcome::CatalogEntryPut(entry) => Ok(Response::new(PutCatalogEntryResponse {
                entry: Some(convert::catalog_entry(&entry)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }

    async fn list_catalog_entries(
        &self,
        request: Request<ListCatalogEntriesRequest>,
    ) -> Result<Response<ListCatalogEntriesResponse>, Status> {
        Caller::of(&request)?;
        self.cluster.read_barrier(Consistency::Linearizable).await?;
        let entries = self
            .cluster
            .reader()
            .catalog_entries()
            .map_err(Error::from)?;
        Ok(Response::new(ListCatalogEntriesResponse {
            entries: entries.iter().map(convert::catalog_entry).collect(),
        }))
    }

    async fn get_catalog_entry(
        &self,
        request: Request<GetCatalogEntryRequest>,
    ) -> Result<Response<GetCatalogEntryResponse>, Status> {
        Caller::of(&request)?;
        let request = request.into_inner();
        let name = CatalogName::parse(&request.name).map_err(|error| Error::InvalidArgument {
            field: "name",
            message: error.to_string(),
        })?;
        self.cluster
            .read_barrier(convert::consistency(request.consistency)?)
            .await?;
        match self
            .cluster
            .reader()
            .catalog_entry(&name)
            .map_err(Error::from)?
        {
            Some(entry) => Ok(Response::new(GetCatalogEntryResponse {
                entry: Some(convert::catalog_entry(&entry)),
            })),
            None => Err(Error::NotFound {
                what: format!("catalog entry {name}"),
            }
            .into()),
        }
    }

    async fn delete_catalog_entry(
        &self,
        request: Request<DeleteCatalogEntryRequest>,
    ) -> Result<Response<DeleteCatalogEntryResponse>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let parsed = parse_name(&request.name, Action::CatalogDelete, &request)
            .map(|name| Command::DeleteCatalogEntry { name });
        match propose(&self.cluster, &caller, parsed).await? {
            Outcome::CatalogEntryDeleted(entry) => Ok(Response::new(DeleteCatalogEntryResponse {
                entry: Some(convert::catalog_entry(&entry)),
            })),
            other => Err(unexpected(&other).into()),
        }
    }
}
