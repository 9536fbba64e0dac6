// No-op javaagent. LocalStack starts DynamoDB Local with -javaagent:ddb-local-loader-0.1.jar,
// a jar it normally downloads; offline we ship this empty stand-in (built by infra/local/install.sh).
public final class NoopAgent { public static void premain(String args) {} }
