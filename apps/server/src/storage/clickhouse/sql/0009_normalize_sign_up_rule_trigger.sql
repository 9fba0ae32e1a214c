-- Legacy $sign-up-rule-trigger rows carried camelCase data; rewrite them to
-- {project_id, branch_id, rule_id, action, email, auth_method, oauth_provider}.
-- Only rows with a ruleId member match, so a re-run changes nothing.
-- Differs from the seed only in ifNull(…, 'null'): since ClickHouse 26.x toJSONString(NULL)
-- is NULL, which made the whole concat NULL and the CAST to JSON fail on a null email.
ALTER TABLE analytics_internal.events{on_cluster}
UPDATE data = CAST(concat(
    '{',
    '"project_id":', toJSONString(JSONExtractString(toJSONString(data), 'projectId')), ',',
    '"branch_id":', toJSONString(JSONExtractString(toJSONString(data), 'branchId')), ',',
    '"rule_id":', toJSONString(JSONExtractString(toJSONString(data), 'ruleId')), ',',
    '"action":', toJSONString(JSONExtractString(toJSONString(data), 'action')), ',',
    '"email":', ifNull(toJSONString(JSONExtract(toJSONString(data), 'email', 'Nullable(String)')), 'null'), ',',
    '"auth_method":', ifNull(toJSONString(JSONExtract(toJSONString(data), 'authMethod', 'Nullable(String)')), 'null'), ',',
    '"oauth_provider":', ifNull(toJSONString(JSONExtract(toJSONString(data), 'oauthProvider', 'Nullable(String)')), 'null'),
    '}'
) AS JSON)
WHERE event_type = '$sign-up-rule-trigger'
  AND JSONHas(toJSONString(data), 'ruleId')
SETTINGS mutations_sync = 2;
