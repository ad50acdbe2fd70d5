import { Controller } from '@nestjs/common';
import { MessageMapping, Principal, SendToUser, type StompPrincipal } from '../../lib/index.js';

/** `/app/whoami` → `{ "name": <principal name> }` on the sender's `/user/queue/whoami`. */
@Controller()
export class WhoAmIController {
  @MessageMapping('/whoami')
  @SendToUser('/queue/whoami')
  whoami(@Principal() principal: StompPrincipal | undefined): { name: string | null } {
    return { name: principal?.name ?? null };
  }
}
