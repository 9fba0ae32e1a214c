import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import maxmind, { type Reader, type Response } from 'maxmind';

/** Location of a client address, in the shape of `$token-refresh` events. */
export type IpInfo = {
  ip: string;
  is_trusted: boolean;
  country_code: string | null;
  region_code: string | null;
  city_name: string | null;
  latitude: number | null;
  longitude: number | null;
  tz_identifier: string | null;
};

export type GeoIp = { lookup(ip: string, isTrusted: boolean): IpInfo | null };

/** The bundled CC0 country database (npm `@ip-location-db/geo-whois-asn-country-mmdb`). */
export function bundledCountryDatabase(): string {
  return createRequire(import.meta.url).resolve('@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb');
}

/**
 * Opens an `.mmdb` file: the bundled country database, or a MaxMind-style
 * city database when the operator has one (`SIGHTLINE_GEOIP_DB`).
 *
 * @example
 * const geo = await openGeoIp(bundledCountryDatabase());
 * geo.lookup('8.8.8.8', false)?.country_code; // "US"
 */
export async function openGeoIp(file: string): Promise<GeoIp> {
  const reader: Reader<Response> = await maxmind.open(file);
  return {
    lookup(ip, isTrusted) {
      const address = normaliseAddress(ip);
      if (!address || isPrivateAddress(address)) return null;
      const record = reader.get(address) as GeoRecord | null;
      return {
        ip: address,
        is_trusted: isTrusted,
        country_code: record?.country_code ?? record?.country?.iso_code ?? null,
        region_code: record?.state1 ?? record?.subdivisions?.[0]?.iso_code ?? null,
        city_name: record?.city_name ?? (typeof record?.city === 'object' ? record.city?.names?.en : record?.city) ?? null,
        latitude: record?.latitude ?? record?.location?.latitude ?? null,
        longitude: record?.longitude ?? record?.location?.longitude ?? null,
        tz_identifier: record?.timezone ?? record?.location?.time_zone ?? null,
      };
    },
  };
}

/** Both the ip-location-db flat layout and MaxMind's nested GeoIP2 layout. */
type GeoRecord = {
  country_code?: string;
  state1?: string;
  city_name?: string;
  latitude?: number;
  longitude?: number;
  timezone?: string;
  country?: { iso_code?: string };
  subdivisions?: { iso_code?: string }[];
  city?: string | { names?: { en?: string } };
  location?: { latitude?: number; longitude?: number; time_zone?: string };
};

function normaliseAddress(ip: string): string | undefined {
  const trimmed = ip.trim().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
  return isIP(trimmed) ? trimmed : undefined;
}

/** Loopback, private, link-local, CGNAT, unique-local and unspecified addresses carry no location. */
export function isPrivateAddress(ip: string): boolean {
  if (isIP(ip) === 4) {
    const [a = 0, b = 0] = ip.split('.').map(Number);
    return (
      a === 10 || a === 127 || a === 0 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  const lower = ip.toLowerCase();
  return lower === '::1' || lower === '::' || /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower);
}
