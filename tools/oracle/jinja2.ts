// Chat templates rendered by Python's jinja2 (Debian python3-jinja2), the engine they are written
// for, in the environment transformers' apply_chat_template sets up: a sandbox with trim_blocks
// and lstrip_blocks, the loop controls and {% generation %} extensions, and its tojson filter, raise_exception and
// strftime_now. The oracle for src/tokenizer/chat-template.ts.
import { execFileSync } from 'node:child_process';
import { PYTHON } from './llama-src.ts';

const SCRIPT = `
import json, sys
from datetime import datetime
import jinja2, jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

def strftime_now(fmt):
    return datetime.now().strftime(fmt)

# transformers' AssistantTracker: {% generation %}...{% endgeneration %} marks the assistant's
# tokens for a training mask; rendering, it writes its body.
class Generation(jinja2.ext.Extension):
    tags = {'generation'}
    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(('name:endgeneration',), drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, jinja2.ext.loopcontrols])
env.filters['tojson'] = tojson
env.globals['raise_exception'] = raise_exception
env.globals['strftime_now'] = strftime_now

out = []
for case in json.load(sys.stdin):
    try:
        out.append({'text': env.from_string(case['template']).render(**case['context'])})
    except Exception as e:
        out.append({'error': type(e).__name__ + ': ' + str(e)})
json.dump(out, sys.stdout)
`;

export interface Jinja2Case {
  template: string;
  context: Record<string, unknown>;
}

/** Each case rendered by jinja2: its text, or the exception it raised. */
export function renderWithJinja2(cases: Jinja2Case[]): ({ text: string } | { error: string })[] {
  const out = execFileSync(PYTHON, ['-c', SCRIPT], { input: JSON.stringify(cases), maxBuffer: 1 << 28 });
  return JSON.parse(out.toString('utf8'));
}
