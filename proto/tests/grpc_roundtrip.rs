//! Serves the generated services over a loopback TCP socket and drives them
//! with the generated clients: checks method paths end to end, server
//! streaming, and that RPCs left unimplemented answer UNIMPLEMENTED.

use std::net::SocketAddr;

use tokio_stream::{StreamExt as _, wrappers::TcpListenerStream};
use tonic::{Code, Request, Response, Status, codegen::BoxStream, transport::Server};

use tf_proto::{
    health::{
        HealthCheckRequest, HealthCheckResponse,
        health_check_response::ServingStatus,
        health_client::HealthClient,
        health_server::{Health, HealthServer},
    },
    plugin::{
        Empty,
        grpc_controller_client::GrpcControllerClient,
        grpc_controller_server::{GrpcController, GrpcControllerServer},
    },
    tfplugin6::{
        ResourceIdentityData, ServerCapabilities, get_provider_schema, list_resource,
        plan_resource_change,
        provider_client::ProviderClient,
        provider_server::{Provider, ProviderServer},
    },
};

struct TestProvider;

#[tonic::async_trait]
impl Provider for TestProvider {
    async fn get_provider_schema(
        &self,
        _request: Request<get_provider_schema::Request>,
    ) -> Result<Response<get_provider_schema::Response>, Status> {
        Ok(Response::new(get_provider_schema::Response {
            server_capabilities: Some(ServerCapabilities {
                plan_destroy: true,
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn list_resource(
        &self,
        request: Request<list_resource::Request>,
    ) -> Result<Response<BoxStream<list_resource::Event>>, Status> {
        let limit = request.into_inner().limit;
        let events = (0..limit).map(|i| {
            Ok(list_resource::Event {
                identity: Some(ResourceIdentityData::default()),
                display_name: format!("item-{i}"),
                ..Default::default()
            })
        });
        Ok(Response::new(Box::pin(tokio_stream::iter(events))))
    }
}

struct TestHealth;

#[tonic::async_trait]
impl Health for TestHealth {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        if request.into_inner().service != "plugin" {
            return Err(Status::not_found("unknown service"));
        }
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        }))
    }
}

struct TestController;

#[tonic::async_trait]
impl GrpcController for TestController {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        Ok(Response::new(Empty {}))
    }
}

async fn serve() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(ProviderServer::new(TestProvider))
            .add_service(HealthServer::new(TestHealth))
            .add_service(GrpcControllerServer::new(TestController))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    addr
}

#[tokio::test]
async fn provider_health_and_controller_round_trip() {
    let addr = serve().await;
    let url = format!("http://{addr}");

    let mut provider = ProviderClient::connect(url.clone()).await.unwrap();
    let schema = provider
        .get_provider_schema(get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.server_capabilities.unwrap().plan_destroy);

    // Not implemented by TestProvider: the generated default answers.
    let err = provider
        .plan_resource_change(plan_resource_change::Request::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);

    let events: Vec<_> = provider
        .list_resource(list_resource::Request {
            limit: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .map(|e| e.unwrap().display_name)
        .collect()
        .await;
    assert_eq!(events, ["item-0", "item-1", "item-2"]);

    let mut health = HealthClient::connect(url.clone()).await.unwrap();
    let status = health
        .check(HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status(), ServingStatus::Serving);
    let watch = health
        .watch(HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_eq!(watch.code(), Code::Unimplemented);

    let mut controller = GrpcControllerClient::connect(url).await.unwrap();
    controller.shutdown(Empty {}).await.unwrap();
}
