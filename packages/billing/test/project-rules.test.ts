import { describe, expect, it } from 'vitest'
import {
  createApiKey,
  createProject,
  getOverview,
  InvalidInput,
  listApiKeys,
  updateProjectSettings,
} from '../src/index.ts'
import { useDatabase } from './fixtures.ts'

describe('project settings are checked once, in the engine, for every door', () => {
  const t = useDatabase()

  it('an unknown time zone is refused at creation as at update, naming the field', async () => {
    await expect(
      createProject(t.db, { name: 'Mars bot', timeZone: 'Mars/Olympus' }),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      field: 'timeZone',
    })
    const project = await createProject(t.db, { name: 'Earth bot', timeZone: 'Europe/Berlin' })
    await expect(
      updateProjectSettings(t.db, { projectId: project.id, actor: 't', timeZone: 'Mars/Olympus' }),
    ).rejects.toBeInstanceOf(InvalidInput)
    // The overview of a project that was accepted always renders.
    await expect(
      getOverview(t.db, {
        projectId: project.id,
        from: new Date(Date.now() - 7 * 86_400_000),
        to: new Date(),
      }),
    ).resolves.toBeTruthy()
  })

  it('names: blank, too long or with control characters are refused', async () => {
    for (const name of ['   ', 'x'.repeat(101), 'bad\u0000name', 'tab\tname']) {
      await expect(createProject(t.db, { name })).rejects.toMatchObject({ field: 'name' })
    }
  })

  it('a project id that is not a UUID is refused before it reaches SQL', async () => {
    await expect(createApiKey(t.db, { projectId: 'not-a-uuid', name: 'k' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      field: 'projectId',
    })
    await expect(listApiKeys(t.db, "'; drop table projects; --")).rejects.toBeInstanceOf(
      InvalidInput,
    )
  })
})
