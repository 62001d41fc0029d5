//! The catalog RPCs of `Client`: the cluster's stdio MCP servers, which workspaces
//! register their servers by.

use warden_proto::v1::catalog_service_client::CatalogServiceClient;
use warden_proto::v1::{
    CatalogEntry, DeleteCatalogEntryRequest, DeleteCatalogEntryResponse, GetCatalogEntryRequest,
    GetCatalogEntryResponse, ListCatalogEntriesRequest, ListCatalogEntriesResponse,
    PutCatalogEntryRequest, PutCatalogEntryResponse,
};

use crate::{Client, Consistency, Error};

impl Client {
    /// Creates or replaces catalog entry `entry.name` (cluster admins only). The output
    /// fields of `entry` are ignored.
    ///
    /// Retried like a read: putting the same entry again leaves the same entry.
    pub async fn put_catalog_entry(
        &self,
        entry: CatalogEntry,
    ) -> Result<PutCatalogEntryResponse, Error> {
        let request = PutCatalogEntryRequest { entry: Some(entry) };
        self.unary(request, |channel, request| async move {
            CatalogServiceClient::new(channel)
                .put_catalog_entry(request)
                .await
        })
        .await
    }

    /// Every catalog entry, in name order.
    pub async fn list_catalog_entries(&self) -> Result<ListCatalogEntriesResponse, Error> {
        self.unary(
            ListCatalogEntriesRequest {},
            |channel, request| async move {
                CatalogServiceClient::new(channel)
                    .list_catalog_entries(request)
                    .await
            },
        )
        .await
    }

    pub async fn get_catalog_entry(
        &self,
        name: impl Into<String>,
        consistency: Consistency,
    ) -> Result<GetCatalogEntryResponse, Error> {
        let request = GetCatalogEntryRequest {
            name: name.into(),
            consistency: consistency.to_proto(),
        };
        self.unary(request, |channel, request| async move {
            CatalogServiceClient::new(channel)
                .get_catalog_entry(request)
                .await
        })
        .await
    }

    /// Deletes catalog entry `name` (cluster admins only).
    ///
    /// Not retried once an attempt may have reached a server: a second attempt after a
    /// first that took effect would answer NOT_FOUND. Such a failure is
    /// [`Error::OutcomeUnknown`]; list the catalog first.
    pub async fn delete_catalog_entry(
        &self,
        name: impl Into<String>,
    ) -> Result<DeleteCatalogEntryResponse, Error> {
        let request = DeleteCatalogEntryRequest { name: name.into() };
        self.unary_once(request, |channel, request| async move {
            CatalogServiceClient::new(channel)
                .delete_catalog_entry(request)
                .await
        })
        .await
    }
}
