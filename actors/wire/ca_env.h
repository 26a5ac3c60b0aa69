/*  =========================================================================
    ca_env - the environment variables cairn's programs read besides
    cairnd's settings

    Each cairnd setting has its CAIRN_* variable in node/node_config.c's
    table; these are the others, defined once here, so that cairnd can warn
    about a CAIRN_* variable nobody reads (a misspelt setting would
    otherwise be ignored without a word).
    ========================================================================= */

#ifndef CA_ENV_H_INCLUDED
#define CA_ENV_H_INCLUDED

#define CA_ENV_CONFIG                "CAIRN_CONFIG"                //  cairnd: the config file
#define CA_ENV_IDENTITY_PASSWORD     "CAIRN_IDENTITY_PASSWORD"     //  cairnd: unlocks the identity
#define CA_ENV_IDENTITY_NEW_PASSWORD "CAIRN_IDENTITY_NEW_PASSWORD" //  cairnd identity init|passwd
#define CA_ENV_WIRE_DUMP             "CAIRN_WIRE_DUMP"             //  the fuzz seed dump (tests)
#define CA_ENV_ENDPOINT              "CAIRN_ENDPOINT"              //  cairn: the node's endpoint
#define CA_ENV_CLIENT_KEY            "CAIRN_CLIENT_KEY"            //  cairn: CURVE key file
#define CA_ENV_SERVER_KEY            "CAIRN_SERVER_KEY"            //  cairn: the node's CURVE key
#define CA_ENV_SENDER_ID             "CAIRN_SENDER_ID"             //  cairn msg send
#define CA_ENV_SENDER_NAME           "CAIRN_SENDER_NAME"           //  cairn msg send
#define CA_ENV_TEST_NOFILE           "CAIRN_TEST_NOFILE"  //  the test kit: a node's fd limit
#define CA_ENV_TEST_JOBS             "CAIRN_TEST_JOBS"    //  deploy/test-all: ctest -j
#define CA_ENV_FUZZ_SECONDS          "CAIRN_FUZZ_SECONDS" //  deploy/test-all: the fuzz run

// clang-format off
//  Every name above, for a loop; NULL-terminated.
#define CA_ENV_OTHERS                                                                         \
    {CA_ENV_CONFIG, CA_ENV_IDENTITY_PASSWORD, CA_ENV_IDENTITY_NEW_PASSWORD, CA_ENV_WIRE_DUMP, \
     CA_ENV_ENDPOINT, CA_ENV_CLIENT_KEY, CA_ENV_SERVER_KEY, CA_ENV_SENDER_ID,                 \
     CA_ENV_SENDER_NAME, CA_ENV_TEST_NOFILE, CA_ENV_TEST_JOBS, CA_ENV_FUZZ_SECONDS, NULL}
// clang-format on

#endif
