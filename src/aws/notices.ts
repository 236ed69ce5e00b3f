import { MetadataService } from "@aws-sdk/ec2-metadata-service";
import { describeNotices, type Notices, parseMaintenance, parseSpot } from "../core/watch";
import { statusOf } from "./identity";

/** A notice poll is local and cheap; one that takes this long is a metadata service in trouble. */
const NOTICE_TIMEOUT_MS = 2000;
/** Tokens live 6 hours; a session asks for a new one well before. */
const TOKEN_TTL_S = 21_600;
const TOKEN_REFRESH_MS = (TOKEN_TTL_S - 600) * 1000;

/**
 * Reads the metadata service's notices with one IMDSv2 token for hours (not a token per request, as
 * a poll every few seconds would otherwise cost), falling back to IMDSv1 where no token can be had.
 */
export class NoticeReader {
  private readonly md = new MetadataService({
    httpOptions: { timeout: NOTICE_TIMEOUT_MS },
    retries: 0,
    disableFetchToken: true,
  });
  private token: { value: string; until: number } | undefined;
  private v1 = false;

  private async headers(): Promise<Record<string, string>> {
    if (this.v1) return {};
    if (!this.token || this.token.until < Date.now()) {
      try {
        const value = await this.md.fetchMetadataToken();
        this.token = { value, until: Date.now() + TOKEN_REFRESH_MS };
      } catch (err) {
        // IMDSv2 refused (403/404/405) or never answered (a hop limit): IMDSv1, if it is allowed.
        if (![403, 404, 405].includes(statusOf(err)) && !/timeout/i.test(String(err))) throw err;
        this.v1 = true;
        return {};
      }
    }
    return { "x-aws-ec2-metadata-token": this.token.value };
  }

  /** A path's text, or undefined where the metadata service has nothing (404). */
  async get(path: string): Promise<string | undefined> {
    try {
      return (await this.md.request(path, { headers: await this.headers() })).trim();
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return undefined;
      if (status === 401) {
        this.token = undefined;
        this.v1 = false;
      }
      throw err;
    }
  }

  async read(): Promise<Notices> {
    const [spot, rebalance, maintenance, targetLifecycle] = await Promise.all([
      this.get("/latest/meta-data/spot/instance-action"),
      this.get("/latest/meta-data/events/recommendations/rebalance"),
      this.get("/latest/meta-data/events/maintenance/scheduled"),
      this.get("/latest/meta-data/autoscaling/target-lifecycle-state"),
    ]);
    const rebalanceAt = rebalance
      ? Date.parse((JSON.parse(rebalance) as { noticeTime?: string }).noticeTime ?? "")
      : NaN;
    return {
      ...(spot ? { spot: parseSpot(spot) } : {}),
      ...(Number.isNaN(rebalanceAt) ? {} : { rebalanceAt }),
      maintenance: maintenance ? parseMaintenance(maintenance) : [],
      ...(targetLifecycle ? { targetLifecycle } : {}),
    };
  }
}

/** Pending notices, best effort: status still reports the rest when the metadata service will not say. */
export async function pendingNotices(): Promise<string[]> {
  try {
    return describeNotices(await new NoticeReader().read(), Date.now());
  } catch (err) {
    return [`unknown: instance metadata did not say (${(err as Error).message})`];
  }
}
