import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Controller, Get, StreamableFile } from '@nestjs/common';

/** sample/public, found from this file whether it runs from source (tests) or from dist-sample. */
function publicDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'sample', 'public');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('sample/public not found');
}

function stompBundle(): string {
  const require = createRequire(import.meta.url);
  // The package's "require" entry is bundles/stomp.umd.js; the minified bundle sits beside it.
  return join(dirname(require.resolve('@stomp/stompjs')), 'stomp.umd.min.js');
}

/** Serves the chat page and @stomp/stompjs from node_modules (no CDN). */
@Controller()
export class PageController {
  private readonly dir = publicDir();

  @Get()
  index(): StreamableFile {
    return new StreamableFile(readFileSync(join(this.dir, 'index.html')), { type: 'text/html; charset=utf-8' });
  }

  @Get('chat.js')
  script(): StreamableFile {
    return new StreamableFile(readFileSync(join(this.dir, 'chat.js')), { type: 'text/javascript; charset=utf-8' });
  }

  @Get('vendor/stomp.umd.min.js')
  stomp(): StreamableFile {
    return new StreamableFile(readFileSync(stompBundle()), { type: 'text/javascript; charset=utf-8' });
  }
}
