//! One [`Reads`](concierge_domain::storage::Reads) implementation for every connection holder:
//! the store (a pooled connection per call) and a transaction (its own connection).

/// Implements `Reads` for `$ty`, whose inherent `conn(&self)` yields something that derefs to
/// an `AsyncPgConnection`, and whose `observe(&self, result)` sees every outcome.
macro_rules! impl_reads {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl concierge_domain::storage::Reads for $ty {
            async fn organization(
                &self,
                id: OrganizationId,
            ) -> StorageResult<Option<Organization>> {
                self.observe(organizations::by_id(&mut *self.conn().await?, id).await)
            }
            async fn organizations_by_ids(
                &self,
                ids: &[OrganizationId],
            ) -> StorageResult<Vec<Organization>> {
                self.observe(organizations::by_ids(&mut *self.conn().await?, ids).await)
            }
            async fn organizations(
                &self,
                query: &OrganizationQuery,
            ) -> StorageResult<Page<Organization>> {
                self.observe(organizations::list(&mut *self.conn().await?, query).await)
            }
            async fn platform_organization(&self) -> StorageResult<Option<Organization>> {
                self.observe(organizations::platform(&mut *self.conn().await?).await)
            }

            async fn profile(&self, id: ProfileId) -> StorageResult<Option<Profile>> {
                self.observe(profiles::by_id(&mut *self.conn().await?, id).await)
            }
            async fn profiles_by_ids(&self, ids: &[ProfileId]) -> StorageResult<Vec<Profile>> {
                self.observe(profiles::by_ids(&mut *self.conn().await?, ids).await)
            }
            async fn profiles_of(
                &self,
                organization_ids: &[OrganizationId],
            ) -> StorageResult<Vec<Profile>> {
                self.observe(
                    profiles::of_organizations(&mut *self.conn().await?, organization_ids).await,
                )
            }
            async fn count_users_with_profile(&self, id: ProfileId) -> StorageResult<i64> {
                self.observe(profiles::count_users(&mut *self.conn().await?, id).await)
            }

            async fn site(&self, id: SiteId) -> StorageResult<Option<Site>> {
                self.observe(sites::by_id(&mut *self.conn().await?, id).await)
            }
            async fn sites_by_ids(&self, ids: &[SiteId]) -> StorageResult<Vec<Site>> {
                self.observe(sites::by_ids(&mut *self.conn().await?, ids).await)
            }
            async fn sites(&self, query: &SiteQuery) -> StorageResult<Page<Site>> {
                self.observe(sites::list(&mut *self.conn().await?, query).await)
            }

            async fn site_group(&self, id: SiteGroupId) -> StorageResult<Option<SiteGroup>> {
                self.observe(site_groups::by_id(&mut *self.conn().await?, id).await)
            }
            async fn site_groups_by_ids(
                &self,
                ids: &[SiteGroupId],
            ) -> StorageResult<Vec<SiteGroup>> {
                self.observe(site_groups::by_ids(&mut *self.conn().await?, ids).await)
            }
            async fn site_groups_of(
                &self,
                organization_ids: &[OrganizationId],
            ) -> StorageResult<Vec<SiteGroup>> {
                self.observe(
                    site_groups::of_organizations(&mut *self.conn().await?, organization_ids).await,
                )
            }

            async fn room_for_booking(
                &self,
                id: RoomId,
                start: chrono::DateTime<chrono::Utc>,
                end: chrono::DateTime<chrono::Utc>,
            ) -> StorageResult<Option<RoomForBooking>> {
                self.observe(rooms::for_booking(&mut *self.conn().await?, id, start, end).await)
            }
            async fn room(&self, id: RoomId) -> StorageResult<Option<Room>> {
                self.observe(rooms::by_id(&mut *self.conn().await?, id).await)
            }
            async fn rooms_by_ids(&self, ids: &[RoomId]) -> StorageResult<Vec<Room>> {
                self.observe(rooms::by_ids(&mut *self.conn().await?, ids).await)
            }
            async fn rooms_of_sites(&self, site_ids: &[SiteId]) -> StorageResult<Vec<Room>> {
                self.observe(rooms::of_sites(&mut *self.conn().await?, site_ids).await)
            }
            async fn sites_with_rooms(
                &self,
                site_ids: &[SiteId],
            ) -> StorageResult<Vec<(Site, Vec<Room>)>> {
                self.observe(rooms::sites_with_rooms(&mut *self.conn().await?, site_ids).await)
            }

            async fn price_list(&self, id: PriceListId) -> StorageResult<Option<PriceList>> {
                self.observe(price_lists::by_id(&mut *self.conn().await?, id).await)
            }
            async fn price_lists_by_ids(
                &self,
                ids: &[PriceListId],
            ) -> StorageResult<Vec<PriceList>> {
                self.observe(price_lists::by_ids(&mut *self.conn().await?, ids).await)
            }
            async fn price_lists_of(
                &self,
                organization_ids: &[OrganizationId],
            ) -> StorageResult<Vec<PriceList>> {
                self.observe(
                    price_lists::of_organizations(&mut *self.conn().await?, organization_ids).await,
                )
            }

            async fn user(&self, id: UserId) -> StorageResult<Option<User>> {
                self.observe(users::by_id(&mut *self.conn().await?, id).await)
            }
            async fn users_by_ids(&self, ids: &[UserId]) -> StorageResult<Vec<User>> {
                self.observe(users::by_ids(&mut *self.conn().await?, ids).await)
            }
            async fn user_by_login(&self, login: &str) -> StorageResult<Option<User>> {
                self.observe(users::by_login(&mut *self.conn().await?, login).await)
            }
            async fn users_and_profiles(
                &self,
                query: &UserQuery,
            ) -> StorageResult<(Page<User>, Vec<Profile>)> {
                self.observe(users::list(&mut *self.conn().await?, query).await)
            }
            async fn logins_taken(&self, logins: &[String]) -> StorageResult<Vec<String>> {
                self.observe(users::logins_taken(&mut *self.conn().await?, logins).await)
            }
            async fn booking_code_hashes_taken(
                &self,
                organization: OrganizationId,
                hashes: &[String],
            ) -> StorageResult<Vec<String>> {
                self.observe(
                    users::booking_code_hashes_taken(
                        &mut *self.conn().await?,
                        organization,
                        hashes,
                    )
                    .await,
                )
            }
            async fn user_by_booking_code(
                &self,
                organization: OrganizationId,
                hash: &str,
            ) -> StorageResult<Option<User>> {
                self.observe(
                    users::by_booking_code(&mut *self.conn().await?, organization, hash).await,
                )
            }

            async fn session(&self, id: SessionId) -> StorageResult<Option<Session>> {
                self.observe(sessions::by_id(&mut *self.conn().await?, id).await)
            }
            async fn session_with_person(
                &self,
                id: SessionId,
            ) -> StorageResult<Option<SessionWithPerson>> {
                self.observe(sessions::with_person(&mut *self.conn().await?, id).await)
            }
            async fn session_by_token_hash(&self, hash: &str) -> StorageResult<Option<Session>> {
                self.observe(sessions::by_token_hash(&mut *self.conn().await?, hash).await)
            }

            async fn audit_events(&self, query: &AuditQuery) -> StorageResult<Page<AuditEvent>> {
                // A transaction writes its audit events with its commit: it writes them first
                // when it reads the log itself, to see its own writes.
                self.write_pending_audits().await?;
                self.observe(audit::list(&mut *self.conn().await?, query).await)
            }

            async fn booking(&self, id: BookingId) -> StorageResult<Option<Booking>> {
                self.observe(bookings::by_id(&mut *self.conn().await?, id).await)
            }
            async fn bookings_by_ids(&self, ids: &[BookingId]) -> StorageResult<Vec<Booking>> {
                self.observe(bookings::by_ids(&mut *self.conn().await?, ids).await)
            }
            async fn bookings(&self, query: &BookingQuery) -> StorageResult<Page<Booking>> {
                self.observe(bookings::list(&mut *self.conn().await?, query).await)
            }
            async fn booking_series(
                &self,
                id: BookingSeriesId,
            ) -> StorageResult<Option<BookingSeries>> {
                self.observe(booking_series::by_id(&mut *self.conn().await?, id).await)
            }
            async fn booking_series_by_ids(
                &self,
                ids: &[BookingSeriesId],
            ) -> StorageResult<Vec<BookingSeries>> {
                self.observe(booking_series::by_ids(&mut *self.conn().await?, ids).await)
            }
            async fn series_bookings(&self, id: BookingSeriesId) -> StorageResult<Vec<Booking>> {
                self.observe(booking_series::occurrences(&mut *self.conn().await?, id).await)
            }
            async fn series_bookings_of(
                &self,
                ids: &[BookingSeriesId],
            ) -> StorageResult<Vec<Booking>> {
                self.observe(booking_series::occurrences_of(&mut *self.conn().await?, ids).await)
            }
            async fn room_bookings(
                &self,
                room: RoomId,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> StorageResult<Vec<Booking>> {
                self.observe(bookings::of_room(&mut *self.conn().await?, room, from, to).await)
            }
            async fn rooms_bookings(
                &self,
                rooms: &[RoomId],
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> StorageResult<Vec<Booking>> {
                self.observe(bookings::of_rooms(&mut *self.conn().await?, rooms, from, to).await)
            }
            async fn busy_rooms(
                &self,
                rooms: &[RoomId],
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> StorageResult<Vec<RoomId>> {
                self.observe(bookings::busy_rooms(&mut *self.conn().await?, rooms, from, to).await)
            }

            async fn device(&self, id: DeviceId) -> StorageResult<Option<Device>> {
                self.observe(devices::by_id(&mut *self.conn().await?, id).await)
            }
            async fn device_with_registrant(
                &self,
                hash: &str,
            ) -> StorageResult<Option<DeviceWithRegistrant>> {
                self.observe(devices::with_registrant(&mut *self.conn().await?, hash).await)
            }
            async fn device_by_token_hash(&self, hash: &str) -> StorageResult<Option<Device>> {
                self.observe(devices::by_token_hash(&mut *self.conn().await?, hash).await)
            }

            async fn invitation(&self, id: InvitationId) -> StorageResult<Option<Invitation>> {
                self.observe(invitations::by_id(&mut *self.conn().await?, id).await)
            }
            async fn invitation_by_token_hash(
                &self,
                hash: &str,
            ) -> StorageResult<Option<Invitation>> {
                self.observe(invitations::by_token_hash(&mut *self.conn().await?, hash).await)
            }
            async fn invitations(
                &self,
                organization_ids: &[OrganizationId],
                user_id: Option<UserId>,
            ) -> StorageResult<Vec<Invitation>> {
                self.observe(
                    invitations::of_organizations(
                        &mut *self.conn().await?,
                        organization_ids,
                        user_id,
                    )
                    .await,
                )
            }

            async fn password_reset_by_token_hash(
                &self,
                hash: &str,
            ) -> StorageResult<Option<PasswordResetToken>> {
                self.observe(password_resets::by_token_hash(&mut *self.conn().await?, hash).await)
            }

            async fn email(&self, id: EmailId) -> StorageResult<Option<OutboundEmail>> {
                self.write_pending_emails().await?;
                self.observe(emails::by_id(&mut *self.conn().await?, id).await)
            }
            async fn pending_email_count(&self) -> StorageResult<i64> {
                self.write_pending_emails().await?;
                self.observe(emails::pending_count(&mut *self.conn().await?).await)
            }

            async fn second_factor(&self, user: UserId) -> StorageResult<Option<SecondFactor>> {
                self.observe(
                    crate::queries::second_factors::by_user(&mut *self.conn().await?, user).await,
                )
            }
            async fn second_factor_required(
                &self,
                organization: OrganizationId,
            ) -> StorageResult<bool> {
                self.observe(
                    crate::queries::second_factors::required(
                        &mut *self.conn().await?,
                        organization,
                    )
                    .await,
                )
            }

            async fn scim_token(&self, id: ScimTokenId) -> StorageResult<Option<ScimToken>> {
                self.observe(crate::queries::scim_tokens::by_id(&mut *self.conn().await?, id).await)
            }
            async fn scim_token_by_hash(&self, hash: &str) -> StorageResult<Option<ScimToken>> {
                self.observe(
                    crate::queries::scim_tokens::by_hash(&mut *self.conn().await?, hash).await,
                )
            }
            async fn scim_tokens_of(
                &self,
                organization: OrganizationId,
            ) -> StorageResult<Vec<ScimToken>> {
                self.observe(
                    crate::queries::scim_tokens::of_organization(
                        &mut *self.conn().await?,
                        organization,
                    )
                    .await,
                )
            }
            async fn sso_connection(
                &self,
                organization: OrganizationId,
            ) -> StorageResult<Option<SsoConnection>> {
                self.observe(
                    crate::queries::single_sign_on::connection(
                        &mut *self.conn().await?,
                        organization,
                    )
                    .await,
                )
            }
            async fn sso_identity(
                &self,
                issuer: &str,
                subject: &str,
            ) -> StorageResult<Option<SsoIdentity>> {
                self.observe(
                    crate::queries::single_sign_on::identity(
                        &mut *self.conn().await?,
                        issuer,
                        subject,
                    )
                    .await,
                )
            }
            async fn calendar_feed_by_hash(
                &self,
                hash: &str,
            ) -> StorageResult<Option<CalendarFeed>> {
                self.observe(
                    crate::queries::calendar_feeds::by_hash(&mut *self.conn().await?, hash).await,
                )
            }
            async fn calendar_feeds_of(&self, user: UserId) -> StorageResult<Vec<CalendarFeed>> {
                self.observe(
                    crate::queries::calendar_feeds::of_user(&mut *self.conn().await?, user).await,
                )
            }
            async fn sso_login_by_hash(&self, hash: &str) -> StorageResult<Option<SsoLogin>> {
                self.observe(
                    crate::queries::single_sign_on::login_by_hash(&mut *self.conn().await?, hash)
                        .await,
                )
            }
        }
    };
}

pub(crate) use impl_reads;
