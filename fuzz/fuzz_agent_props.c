/* fuzz_agent_props.c: the agent's reader of bbb-web.properties (Java .properties: comments,
 * continuation lines, \uXXXX escapes, ${key} interpolation), agent_config_props_parse and
 * agent_config_props_get on the keys the agent reads.
 *
 * Input: the file's content. */
#include <stdint.h>
#include <stdlib.h>

#include "agent_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "securitySalt", "bigbluebutton.web.serverURL",
					    "redisHost", "redisPort", "redisPassword", "a", "" };
	struct agent_props *p = NULL;
	size_t i;

	if (agent_config_props_parse(&p, (const char *)data, size) != 0)
		return 0;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		free(agent_config_props_get(p, keys[i]));
	agent_config_props_free(p);
	return 0;
}
