import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { StompModuleOptions } from './stomp-options.js';

export const {
  ConfigurableModuleClass: StompConfigurableModule,
  MODULE_OPTIONS_TOKEN: STOMP_MODULE_OPTIONS,
  OPTIONS_TYPE: STOMP_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: STOMP_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<StompModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
