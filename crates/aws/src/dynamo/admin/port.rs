//! [`AdminStore`] on DynamoDB: each operation of the port is the function of the same
//! name in the module of its concern.

use m2m_core::model::{Api, Client, Grant, KeyStatus, SigningKey, TrustRule};
use m2m_core::quota::Subject;
use m2m_core::revocation::Revocation;
use m2m_core::types::{Audience, ClientId, Kid, OrgId};
use m2m_manage::orgs::Org;
use m2m_manage::{
    AdminStore, Claim, ClientFilter, Cursor, IdempotencyClaim, Page, StoreError, Versioned,
};

use crate::dynamo::admin::{
    apis, clients, idempotency, keys, listing, orgs, revoke, trust, usage, DynamoAdminStore,
};

impl AdminStore for DynamoAdminStore {
    async fn get_api(&self, identifier: &Audience) -> Result<Option<Versioned<Api>>, StoreError> {
        apis::get_api(self, identifier).await
    }

    async fn list_apis(&self) -> Result<Vec<Versioned<Api>>, StoreError> {
        apis::list_apis(self).await
    }

    async fn create_api(&self, api: &Api) -> Result<(), StoreError> {
        apis::create_api(self, api).await
    }

    async fn replace_api(&self, api: &Api, expected: u64) -> Result<(), StoreError> {
        apis::replace_api(self, api, expected).await
    }

    async fn replace_api_with_grants(
        &self,
        api: &Api,
        expected: u64,
        grants: &[Grant],
    ) -> Result<(), StoreError> {
        apis::replace_api_with_grants(self, api, expected, grants).await
    }

    async fn grants_for_api(&self, identifier: &Audience) -> Result<Vec<Grant>, StoreError> {
        apis::grants_for_api(self, identifier).await
    }

    async fn delete_api(
        &self,
        identifier: &Audience,
        expected: u64,
        grants: &[Grant],
    ) -> Result<(), StoreError> {
        apis::delete_api(self, identifier, expected, grants).await
    }

    async fn get_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        clients::get_client(self, id).await
    }

    async fn client_grants(&self, id: &ClientId) -> Result<Vec<Grant>, StoreError> {
        clients::client_grants(self, id).await
    }

    async fn list_clients(
        &self,
        filter: &ClientFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Client>, StoreError> {
        listing::list_clients(self, filter, after, limit).await
    }

    async fn create_client(
        &self,
        client: &Client,
        grants: &[(Grant, u64)],
    ) -> Result<(), StoreError> {
        clients::create_client(self, client, grants).await
    }

    async fn replace_client(&self, client: &Client, expected: u64) -> Result<(), StoreError> {
        clients::replace_client(self, client, expected).await
    }

    async fn create_client_in_org(
        &self,
        client: &Client,
        grants: &[(Grant, u64)],
        org_version: Option<u64>,
    ) -> Result<(), StoreError> {
        orgs::create_client_in_org(self, client, grants, org_version).await
    }

    async fn replace_client_in_org(
        &self,
        client: &Client,
        expected: u64,
        org_version: u64,
    ) -> Result<(), StoreError> {
        orgs::replace_client_in_org(self, client, expected, org_version).await
    }

    async fn replace_client_and_revoke(
        &self,
        client: &Client,
        expected: u64,
        revocation: &Revocation,
        now: u64,
    ) -> Result<(), StoreError> {
        revoke::replace_client_and_revoke(self, client, expected, revocation, now).await
    }

    async fn delete_client(
        &self,
        id: &ClientId,
        expected: u64,
        grants: &[Grant],
    ) -> Result<(), StoreError> {
        clients::delete_client(self, id, expected, grants).await
    }

    async fn put_grant(
        &self,
        grant: &Grant,
        client_version: u64,
        api_version: u64,
    ) -> Result<(), StoreError> {
        clients::put_grant(self, grant, client_version, api_version).await
    }

    async fn delete_grant(
        &self,
        client_id: &ClientId,
        audience: &Audience,
        client_version: u64,
    ) -> Result<(), StoreError> {
        clients::delete_grant(self, client_id, audience, client_version).await
    }

    async fn trust_rules(
        &self,
        id: &ClientId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<TrustRule>, StoreError> {
        trust::trust_rules(self, id, after, limit).await
    }

    async fn get_trust_rule(
        &self,
        id: &ClientId,
        rule_id: &str,
    ) -> Result<Option<TrustRule>, StoreError> {
        trust::get_trust_rule(self, id, rule_id).await
    }

    async fn put_trust_rule(
        &self,
        client_id: &ClientId,
        rule: &TrustRule,
        client_version: u64,
    ) -> Result<(), StoreError> {
        trust::put_trust_rule(self, client_id, rule, client_version).await
    }

    async fn delete_trust_rules(
        &self,
        client_id: &ClientId,
        rules: &[TrustRule],
        client_version: u64,
    ) -> Result<(), StoreError> {
        trust::delete_trust_rules(self, client_id, rules, client_version).await
    }

    async fn get_org(&self, id: &OrgId) -> Result<Option<Versioned<Org>>, StoreError> {
        orgs::get_org(self, id).await
    }

    async fn put_org(&self, org: &Org, expected: Option<u64>) -> Result<(), StoreError> {
        orgs::put_org(self, org, expected).await
    }

    async fn usage(
        &self,
        subject: &Subject,
        from_hour: u64,
        to_hour: u64,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        usage::usage(self, subject, from_hour, to_hour).await
    }

    async fn list_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        keys::list_keys(self).await
    }

    async fn get_key(&self, kid: &Kid) -> Result<Option<SigningKey>, StoreError> {
        keys::get_key(self, kid).await
    }

    async fn create_key(&self, key: &SigningKey) -> Result<(), StoreError> {
        keys::create_key(self, key).await
    }

    async fn activate_key(
        &self,
        kid: &Kid,
        from: KeyStatus,
        previous: &[Kid],
        now: u64,
    ) -> Result<(), StoreError> {
        keys::activate_key(self, kid, from, previous, now).await
    }

    async fn retire_key(&self, kid: &Kid, from: KeyStatus, now: u64) -> Result<(), StoreError> {
        keys::retire_key(self, kid, from, now).await
    }

    async fn revoke_key(
        &self,
        kid: &Kid,
        from: KeyStatus,
        promote: Option<&Kid>,
        now: u64,
    ) -> Result<(), StoreError> {
        keys::revoke_key(self, kid, from, promote, now).await
    }

    async fn delete_key(&self, kid: &Kid, retired_at: u64) -> Result<(), StoreError> {
        keys::delete_key(self, kid, retired_at).await
    }

    async fn claim_idempotency(&self, claim: &IdempotencyClaim) -> Result<Claim, StoreError> {
        idempotency::claim_idempotency(self, claim).await
    }

    async fn complete_idempotency(
        &self,
        key: &str,
        fingerprint: &str,
        result: &str,
    ) -> Result<(), StoreError> {
        idempotency::complete_idempotency(self, key, fingerprint, result).await
    }

    async fn release_idempotency(&self, key: &str, fingerprint: &str) -> Result<(), StoreError> {
        idempotency::release_idempotency(self, key, fingerprint).await
    }
}
