//! Building the one S3 client of the process, and what is settled once at start: the bucket
//! exists (or is created), and which checksums the store verifies.

use std::time::Duration;

use anyhow::{Context, bail};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use super::checksum::{PartChecksum, WriteChecksum, with_checksum};
use super::errors::classify;
use crate::blob::BlobError;
use crate::config::{ChecksumMode, S3Config};

/// The floor throughput assumed when bounding a request that carries a file part.
const MIN_TRANSFER_BYTES_PER_SEC: u64 = 1 << 20;

/// The client of every request, at `S3_ENDPOINT`.
pub(super) async fn build(config: &S3Config) -> Client {
    build_at(config, config.endpoint.as_deref()).await
}

/// The client that signs presigned URLs: at `S3_PRESIGN_ENDPOINT` when set, the address
/// browsers reach the store at (signing is local: this client never connects).
pub(super) async fn presigner(config: &S3Config, client: &Client) -> Client {
    match &config.presign_endpoint {
        Some(endpoint) => build_at(config, Some(endpoint)).await,
        None => client.clone(),
    }
}

async fn build_at(config: &S3Config, endpoint: Option<&str>) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(config.region.clone()))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(config.timeout)
                .operation_timeout(config.timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let (Some(access_key), Some(secret_key)) = (&config.access_key, &config.secret_key) {
        loader = loader.credentials_provider(Credentials::new(
            access_key.expose(),
            secret_key.expose(),
            None,
            None,
            "quillstore-config",
        ));
    }
    let shared = loader.load().await;
    let mut builder = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(config.force_path_style)
        // Checksums are ours to choose (S3-compatible stores differ); the SDK adds none.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    // On the S3 client only: the credential providers (instance metadata, STS...) keep theirs.
    #[cfg(unix)]
    if let Some(path) = &config.socket {
        builder = builder.http_client(super::unix::http_client(path.clone(), config.timeout));
    }
    Client::from_conf(builder.build())
}

/// Timeouts of a request that carries `bytes` of a file: the usual bound plus one second per
/// MiB, per attempt.
pub(super) fn transfer_timeouts(config: &S3Config, bytes: u64) -> TimeoutConfig {
    let attempt = config.timeout + Duration::from_secs(bytes.div_ceil(MIN_TRANSFER_BYTES_PER_SEC));
    TimeoutConfig::builder()
        .connect_timeout(config.timeout)
        .operation_attempt_timeout(attempt)
        .operation_timeout(attempt * 3)
        .build()
}

/// A missing bucket is created when allowed, else a startup error that says what to do.
pub(super) async fn ensure_bucket(client: &Client, config: &S3Config) -> anyhow::Result<()> {
    let where_ = match (&config.socket, &config.endpoint) {
        (Some(path), _) => format!("S3_SOCKET={}", path.display()),
        (None, Some(endpoint)) => format!("S3_ENDPOINT={endpoint}"),
        (None, None) => "AWS S3".to_owned(),
    };
    match client
        .head_bucket()
        .bucket(&config.bucket)
        .send()
        .await
        .map_err(classify("HeadBucket"))
    {
        Ok(_) => return Ok(()),
        Err(BlobError::NotFound) => {}
        Err(error) => bail!(
            "S3_BUCKET={} at {where_} cannot be reached: {error}",
            config.bucket
        ),
    }
    if !config.create_bucket {
        bail!(
            "S3_BUCKET={} does not exist at {where_}: create it, or set \
             S3_CREATE_BUCKET=true",
            config.bucket
        );
    }
    let mut request = client.create_bucket().bucket(&config.bucket);
    if config.region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(config.region.as_str()))
                .build(),
        );
    }
    request
        .send()
        .await
        .map_err(classify("CreateBucket"))
        .with_context(|| format!("cannot create S3_BUCKET={}", config.bucket))?;
    tracing::info!(bucket = %config.bucket, "created the S3 bucket");
    Ok(())
}

/// Which checksums the store verifies: whether a SHA-256 sent with a write is checked (direct
/// uploads rely on it), and what quillstore's own writes carry. With `S3_CHECKSUM=auto`
/// probe writes decide: a checksum counts as verified when a write with the right value
/// passes (else the store rejects the header) and one with a wrong value fails (else it
/// ignores it). CRC32C is preferred for quillstore's writes (cheap to verify); a store that
/// verifies only SHA-256 gets SHA-256; one that verifies neither gets a signed payload.
pub(super) async fn decide_checksums(
    client: &Client,
    config: &S3Config,
) -> anyhow::Result<(bool, WriteChecksum)> {
    match config.checksum {
        ChecksumMode::Crc32c => return Ok((true, WriteChecksum::Crc32c)),
        ChecksumMode::Sha256 => return Ok((true, WriteChecksum::Sha256)),
        ChecksumMode::Off => return Ok((false, WriteChecksum::Signed)),
        ChecksumMode::Auto => {}
    }
    let key = format!(
        "{}quillstore-probe/{}",
        config.path_prefix,
        uuid::Uuid::now_v7()
    );
    let sha256 = probe(client, config, &key, WriteChecksum::Sha256).await;
    let crc32c = match sha256 {
        Ok(_) => probe(client, config, &key, WriteChecksum::Crc32c).await,
        Err(_) => Ok(false),
    };
    let _ = client
        .delete_object()
        .bucket(&config.bucket)
        .key(&key)
        .send()
        .await;
    let (sha256, crc32c) = (sha256?, crc32c?);
    let writes = match (crc32c, sha256) {
        (true, _) => WriteChecksum::Crc32c,
        (false, true) => WriteChecksum::Sha256,
        (false, false) => WriteChecksum::Signed,
    };
    if sha256 {
        tracing::info!(
            writes = writes.name(),
            "the S3 store verifies checksums: writes carry one"
        );
    } else {
        tracing::warn!(
            writes = writes.name(),
            "the S3 store does not verify x-amz-checksum-sha256 (S3_CHECKSUM=auto): direct \
             uploads are hashed by reading them back"
        );
    }
    Ok((sha256, writes))
}

/// Whether the store verifies `kind`: a write with the right checksum passes and one with a
/// wrong checksum fails. Only an unreachable store is an error.
async fn probe(
    client: &Client,
    config: &S3Config,
    key: &str,
    kind: WriteChecksum,
) -> anyhow::Result<bool> {
    let body: &'static [u8] = b"quillstore checksum probe";
    let send = |sum: Option<PartChecksum>| {
        let request = client
            .put_object()
            .bucket(&config.bucket)
            .key(key)
            .body(ByteStream::from_static(body));
        with_checksum!(request, &sum).send()
    };
    match send(kind.of(body)).await.map_err(classify("PutObject")) {
        Ok(_) => Ok(send(kind.of(b"something else")).await.is_err()),
        Err(BlobError::Unavailable(message)) => bail!(
            "S3_BUCKET={}: a probe write failed: {message}",
            config.bucket
        ),
        Err(_) => Ok(false),
    }
}
