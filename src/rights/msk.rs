//! Amazon MSK IAM authentication for the rights consumer: SASL/OAUTHBEARER whose token is a
//! SigV4-presigned `kafka-cluster:Connect` URL, the format of AWS's MSK IAM signer libraries
//! (`aws-msk-iam-sasl-signer-python`, `-go`, `-js`). Signed with the SDK's own SigV4 signer
//! and credentials chain; librdkafka asks for a new token before the old one expires.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use rdkafka::client::{ClientContext, OAuthToken};
use rdkafka::consumer::ConsumerContext;

/// How long a token is valid (the signer libraries' default).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// The OAUTHBEARER token for `region` at `time`, and when it expires (ms since the epoch).
pub fn auth_token(
    region: &str,
    credentials: &Credentials,
    time: SystemTime,
) -> Result<(String, i64), String> {
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let params: aws_sigv4::http_request::SigningParams<'_> = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("kafka-cluster")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| format!("MSK IAM signing parameters: {e}"))?
        .into();
    let host = format!("kafka.{region}.amazonaws.com");
    let url = format!("https://{host}/?Action=kafka-cluster%3AConnect");
    let signable = SignableRequest::new(
        "GET",
        &url,
        std::iter::once(("host", host.as_str())),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| format!("MSK IAM request: {e}"))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| format!("MSK IAM signing: {e}"))?
        .into_parts();
    let mut request = http::Request::builder()
        .method("GET")
        .uri(&url)
        .header("host", &host)
        .body(())
        .map_err(|e| format!("MSK IAM request: {e}"))?;
    instructions.apply_to_request_http1x(&mut request);
    let signed = format!(
        "{}&User-Agent=strata%2F{}",
        request.uri(),
        env!("CARGO_PKG_VERSION")
    );
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signed);
    let expires = time
        .checked_add(TOKEN_LIFETIME)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .ok_or("MSK IAM token: time out of range")?;
    Ok((token, expires))
}

/// Signs tokens for one region with credentials from the AWS chain.
pub struct MskIam {
    pub region: String,
    pub provider: SharedCredentialsProvider,
    pub runtime: tokio::runtime::Handle,
}

/// The Kafka client context of the consumer and producer: plain, or with MSK IAM tokens.
#[derive(Default)]
pub struct KafkaContext {
    pub iam: Option<MskIam>,
}

impl ClientContext for KafkaContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(
        &self,
        _config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        let iam = self.iam.as_ref().ok_or(
            "sasl.mechanism OAUTHBEARER needs rights.sasl_mechanism: AWS_MSK_IAM (tokens from the AWS credential chain)",
        )?;
        // librdkafka may call this on a thread that runs async code: fetch the credentials
        // on a thread of its own.
        let provider = iam.provider.clone();
        let runtime = iam.runtime.clone();
        let credentials = std::thread::spawn(move || {
            runtime.block_on(async move { provider.provide_credentials().await })
        })
        .join()
        .map_err(|_| "MSK IAM: the credentials thread panicked")??;
        let (token, lifetime_ms) = auth_token(&iam.region, &credentials, SystemTime::now())?;
        Ok(OAuthToken {
            token,
            principal_name: String::new(),
            lifetime_ms,
        })
    }
}

impl ConsumerContext for KafkaContext {}

/// Credentials from the standard AWS chain (environment, shared profile, SSO, instance role).
pub async fn from_environment(region: &str) -> Result<MskIam, String> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await;
    let provider = config
        .credentials_provider()
        .ok_or("MSK IAM: no AWS credentials provider is configured")?;
    Ok(MskIam {
        region: region.to_string(),
        provider,
        runtime: tokio::runtime::Handle::current(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_a_presigned_connect_url() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let (token, expires) = auth_token("eu-west-1", &creds, time).expect("token");
        assert_eq!(expires, 1_700_000_900_000);
        let url = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&token)
                .expect("base64url"),
        )
        .expect("utf-8");
        assert!(
            url.starts_with(
                "https://kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect&"
            ),
            "{url}"
        );
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Fkafka-cluster%2Faws4_request",
            "X-Amz-Date=20231114T221320Z",
            "X-Amz-Expires=900",
            "X-Amz-SignedHeaders=host",
        ] {
            assert!(url.contains(part), "{part} not in {url}");
        }
        // Another secret gives another signature.
        let other = Credentials::new("AKIDEXAMPLE", "other", None, None, "test");
        assert_ne!(
            auth_token("eu-west-1", &other, time).expect("token").0,
            token
        );
    }
}
