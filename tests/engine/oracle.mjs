// The real engine as an oracle for the tests: reads one JSON request per line on stdin and
// answers one JSON line on stdout, after the marker '@@oracle ' (the engine writes lines of
// its own to stdout). A request names a PDF file, an optional Instant JSON
// document to import with it, and what to give back: the engine's Instant JSON export, and
// optionally its PDF export written to a file.
import fs from 'node:fs';
import readline from 'node:readline';

const MARKER = '@@oracle ';

const { load } = await import('@nutrient-sdk/node');

async function handle(request) {
  const options = { document: fs.readFileSync(request.pdf) };
  if (request.instantJSON) options.instantJSON = request.instantJSON;
  let instance;
  try {
    instance = await load(options);
  } catch (error) {
    return { ok: false, error: String(error && error.message || error) };
  }
  try {
    const answer = { ok: true, instantJSON: await instance.exportInstantJSON() };
    if (request.read) {
      // How the engine reads the PDF's own annotations, page by page.
      const pages = instance.getDocumentInfo().pageCount;
      answer.annotations = [];
      for (let index = 0; index < pages; index++) {
        answer.annotations.push(...((await instance.getAnnotations(index)) || []));
      }
    }
    if (request.pdfOut) {
      const pdf = await instance.exportPDF(request.exportOptions || {});
      fs.writeFileSync(request.pdfOut, Buffer.from(pdf));
    }
    return answer;
  } catch (error) {
    return { ok: false, error: String(error && error.message || error) };
  } finally {
    await instance.close();
  }
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    answer = await handle(JSON.parse(line));
  } catch (error) {
    answer = { ok: false, error: String(error && error.stack || error) };
  }
  process.stdout.write(MARKER + JSON.stringify(answer) + '\n');
}
