import { Controller, Get } from '@nestjs/common';
import { StompStats, type StompStatsSnapshot } from '../../lib/index.js';

/**
 * `GET /stats`: the STOMP server's figures as JSON (`StompStats.snapshot()`). `sessions.current`
 * is the number of open STOMP sessions; see the README's "Stats and metrics" for every field.
 */
@Controller()
export class StatsController {
  constructor(private readonly stats: StompStats) {}

  @Get('stats')
  snapshot(): StompStatsSnapshot {
    return this.stats.snapshot();
  }
}
