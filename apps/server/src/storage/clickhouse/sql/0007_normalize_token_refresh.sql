-- Legacy $token-refresh rows carried camelCase data ({refreshTokenId, isAnonymous, ipInfo});
-- rewrite them to {refresh_token_id, is_anonymous, ip_info}. Rows already in the new
-- shape have no refreshTokenId path and are left alone, so a re-run changes nothing.
-- Note: the JSON type does not store null values, so `null` members read back as absent.
-- mutations_sync = 2 makes the statement return only once every part is rewritten.
ALTER TABLE analytics_internal.events{on_cluster}
UPDATE data = CAST(concat(
    '{',
    '"refresh_token_id":', toJSONString(data.refreshTokenId::String), ',',
    '"is_anonymous":', if(ifNull(data.isAnonymous::Nullable(Bool), false), 'true', 'false'), ',',
    '"ip_info":', if(
        isNull(data.ipInfo.ip::Nullable(String)),
        'null',
        concat(
            '{',
            '"ip":', toJSONString(data.ipInfo.ip::String), ',',
            '"is_trusted":', if(ifNull(data.ipInfo.isTrusted::Nullable(Bool), false), 'true', 'false'), ',',
            '"country_code":', if(isNull(data.ipInfo.countryCode::Nullable(String)), 'null', toJSONString(data.ipInfo.countryCode::String)), ',',
            '"region_code":', if(isNull(data.ipInfo.regionCode::Nullable(String)), 'null', toJSONString(data.ipInfo.regionCode::String)), ',',
            '"city_name":', if(isNull(data.ipInfo.cityName::Nullable(String)), 'null', toJSONString(data.ipInfo.cityName::String)), ',',
            '"latitude":', if(isNull(data.ipInfo.latitude::Nullable(Float64)), 'null', toString(data.ipInfo.latitude::Float64)), ',',
            '"longitude":', if(isNull(data.ipInfo.longitude::Nullable(Float64)), 'null', toString(data.ipInfo.longitude::Float64)), ',',
            '"tz_identifier":', if(isNull(data.ipInfo.tzIdentifier::Nullable(String)), 'null', toJSONString(data.ipInfo.tzIdentifier::String)),
            '}'
        )
    ),
    '}'
) AS JSON)
WHERE event_type = '$token-refresh'
  AND data.refreshTokenId::Nullable(String) IS NOT NULL
SETTINGS mutations_sync = 2;
