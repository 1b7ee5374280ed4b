/* One error enum for the whole service. Each row says how the error looks on the REST surfaces
 * (/v3 Keystone style and /v3.0 IAM style share the status and IAM code) and on the AWS Query
 * surface. src/http/resp.c is the only place that turns a row into a response. */
#ifndef OSC_ERR_H
#define OSC_ERR_H

/*  name               rest  rest_code      aws   aws_code                      default message */
#define OSC_ERR_MAP(X)                                                                             \
    X(OK, 200, "", 200, "", "OK")                                                                  \
    X(INVALID, 400, "IAM.0007", 400, "ValidationError", "Invalid request parameter.")              \
    X(BAD_BODY, 400, "IAM.0011", 400, "ValidationError", "The request body is not valid JSON.")    \
    X(UNAUTHENTICATED, 401, "IAM.0001", 403, "InvalidClientTokenId",                               \
      "The request you have made requires authentication.")                                        \
    X(BAD_SIGNATURE, 401, "APIGW.0301", 403, "SignatureDoesNotMatch",                              \
      "Incorrect IAM authentication information: verify aksk signature fail.")                     \
    X(FORBIDDEN, 403, "IAM.0002", 403, "AccessDenied",                                             \
      "You are not authorized to perform the requested action.")                                   \
    X(NOT_FOUND, 404, "IAM.0004", 404, "NoSuchEntity", "Could not find the requested resource.")   \
    X(METHOD, 405, "IAM.0007", 405, "InvalidAction",                                               \
      "The method is not allowed for the requested URL.")                                          \
    X(CONFLICT, 409, "IAM.0005", 409, "EntityAlreadyExists", "The entity already exists.")         \
    X(DELETE_CONFLICT, 409, "IAM.0005", 409, "DeleteConflict",                                     \
      "Cannot delete entity, must delete access keys first.")                                      \
    X(KEY_LIMIT, 400, "akSkNumExceed", 409, "LimitExceeded",                                       \
      "Cannot exceed quota for AccessKeysPerUser: 2")                                              \
    X(TOO_LARGE, 413, "IAM.0011", 413, "ValidationError", "The request body is too large.")        \
    X(HEADERS_TOO_LARGE, 431, "IAM.0011", 431, "ValidationError",                                  \
      "The request headers are too large.")                                                        \
    X(UNAVAILABLE, 503, "IAM.0006", 503, "ServiceUnavailable",                                     \
      "The service is temporarily unavailable.")                                                   \
    X(MISSING_AUTH, 401, "IAM.0001", 403, "MissingAuthenticationToken",                            \
      "Request is missing Authentication Token")                                                   \
    X(INCOMPLETE_SIGNATURE, 401, "APIGW.0301", 400, "IncompleteSignature",                         \
      "The request signature is incomplete.")                                                      \
    X(REQUEST_EXPIRED, 401, "APIGW.0301", 403, "AccessDenied", "Request has expired")              \
    X(INVALID_ACTION, 400, "IAM.0007", 400, "InvalidAction",                                       \
      "The action is not valid for this endpoint.")                                                \
    X(MISSING_ACTION, 400, "IAM.0007", 400, "MissingAction",                                       \
      "The request must contain the parameter Action.")                                            \
    X(INVALID_INPUT, 400, "IAM.0007", 400, "InvalidInput", "The input is not valid.")              \
    X(MALFORMED_POLICY, 400, "IAM.0007", 400, "MalformedPolicyDocument",                           \
      "This policy contains invalid Json")                                                         \
    X(INTERNAL, 500, "IAM.0006", 500, "ServiceFailure",                                            \
      "The request processing has failed because of an unknown error, exception or failure.")

typedef enum osc_err {
#define X(name, rh, rc, ah, ac, msg) OSC_E_##name,
    OSC_ERR_MAP(X)
#undef X
        OSC_E__COUNT
} osc_err;

#define OSC_OK OSC_E_OK

/* Stable name of an error ("NOT_FOUND"), for logs and metrics. Never NULL. */
const char *osc_err_name(osc_err err);
/* HTTP status and code on the /v3 and /v3.0 surfaces. */
int osc_err_rest_status(osc_err err);
const char *osc_err_rest_code(osc_err err);
/* HTTP status and <Code> on the AWS Query surface. */
int osc_err_aws_status(osc_err err);
const char *osc_err_aws_code(osc_err err);
/* The message used when the code that failed chose none. */
const char *osc_err_default_message(osc_err err);

#endif
