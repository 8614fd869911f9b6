//! The instance cannot be locked out: only who could grant a user's roles may deactivate or delete it, and the
//! last active instance owner stays.

use anyhow::Result;

use crate::helpers::{Backend, TestApp};

crate::suite!(users;
    an_instance_user_manager_cannot_remove_the_owner, the_last_active_owner_cannot_leave,
);

async fn an_instance_user_manager_cannot_remove_the_owner(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let manager = app.human("manager").await?;
    app.grant_iam_role(&manager, "IAM_USER_MANAGER").await?;
    let m = app.token_for(&manager);
    let admin = app.admin_id.clone();
    // user.write instance-wide, but no power to grant IAM_OWNER: refused, and nothing is written.
    let before = app.event_types(&admin).await?.len();
    app.deactivate(&admin)
        .by(&m)
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    app.delete_user(&admin)
        .by(&m)
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    crate::check_eq!(app.event_types(&admin).await?.len(), before);
    // Users without roles stay the manager's to manage.
    let plain = app.human("plain").await?;
    app.deactivate(&plain).by(&m).send().await.ok()?;
    app.delete_user(&plain).by(&m).send().await.ok()?;
    Ok(())
}

async fn the_last_active_owner_cannot_leave(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let admin = app.admin_id.clone();
    app.deactivate(&admin)
        .send()
        .await
        .err(400, 9, "USER-L4st0")?;
    app.delete_user(&admin)
        .send()
        .await
        .err(400, 9, "USER-L4st0")?;
    // With a second owner, either may go, but not both.
    let second = app.human("second").await?;
    app.grant_iam_role(&second, "IAM_OWNER").await?;
    let s = app.token_for(&second);
    app.deactivate(&admin).by(&s).send().await.ok()?;
    app.deactivate(&second)
        .by(&s)
        .send()
        .await
        .err(400, 9, "USER-L4st0")?;
    app.delete_user(&second)
        .by(&s)
        .send()
        .await
        .err(400, 9, "USER-L4st0")?;
    // Reactivated, the first owner lets the second go.
    app.reactivate(&admin).by(&s).send().await.ok()?;
    app.delete_user(&second).send().await.ok()?;
    Ok(())
}
